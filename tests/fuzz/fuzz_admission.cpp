// libFuzzer target: the validation entry point. Any bytes, as the body an agency posts, through
// admission (the Xerces SAX pass against the preloaded grammars, the routing keys, the agency's
// rights). It must never crash, leak or hang; every input ends as a message or a refusal, and
// never as an internal error (the validator reports its own exceptions as one, not as bad XML).
#include <cstddef>
#include <cstdint>

#include "cjhub/intake/admission.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& w = cjhub::fuzz::world();
  static const auto agency = w.directory.current()->find("CT0064000");
  if (!agency) __builtin_trap();
  std::string body(reinterpret_cast<const char*>(data), size);
  const auto r = cjhub::intake::admit(w.config, *w.schemas, *agency, std::move(body), "", cjhub::now_utc());
  if (auto* refusal = std::get_if<cjhub::intake::Refusal>(&r)) {
    if (cjhub::intake::info(refusal->problem).status < 400) __builtin_trap();  // a refusal is 4xx or 5xx
    // Only a database outage may be a 5xx; an internal error here is the hub's own bug.
    if (refusal->problem == cjhub::intake::Problem::internal_error) __builtin_trap();
  }
  return 0;
}
