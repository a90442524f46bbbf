// Logging: one named spdlog logger per module ("ingress", "outbox", ...), created by
// setup_logging() from the configuration. Log lines carry ids, never payload content.
#pragma once

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace cjhub::log {

struct Settings {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text or json
  std::map<std::string, std::string> module_levels;
};

// The module names a configuration may set a level for.
const std::vector<std::string>& module_names();

// Creates (or re-creates) the module loggers, writing to stderr.
void setup(const Settings& settings);

// Appends `text` escaped for the inside of a JSON string: quotes, backslashes and control
// characters are escaped, valid UTF-8 is kept, and each byte that is not part of a valid UTF-8
// sequence (a peer's garbage, a cut multi-byte character) becomes U+FFFD, so a line is valid JSON
// whatever it quotes.
void append_json_escaped(std::string_view text, std::string& out);

// The logger of a module; falls back to a stderr logger at "info" if setup() has not run.
std::shared_ptr<spdlog::logger> get(const std::string& module);

}  // namespace cjhub::log
