// Holds the current SchemaSet and replaces it with a freshly loaded one when Xerces' shared
// namespace-URI table (which keeps every URI any document ever declared) has grown past a limit
// in URIs or in bytes, so hostile documents full of made-up namespaces cannot grow the hub's
// memory without bound.
// Also the place a configuration reload (SIGHUP) swaps new message types in.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <memory>
#include <mutex>
#include <vector>

#include "cjhub/validation/validator.hpp"

namespace cjhub::validation {

class SchemaHolder {
 public:
  // Loads now (throws SchemaLoadError, at start-up).
  SchemaHolder(std::vector<MessageTypeSpec> types, Limits limits, std::size_t max_namespace_growth = 10000,
               std::size_t max_namespace_bytes = 8u << 20);

  std::shared_ptr<const SchemaSet> current() const { return std::atomic_load(&current_); }

  // Cheap check after a validation; reloads (on the calling thread, once) past the limit.
  // A failed reload keeps the current set and is logged.
  bool renew_if_grown();
  std::uint64_t renewals() const { return renewals_.load(); }

  // A configuration reload: loads `types` beside the current set (the current one keeps serving
  // meanwhile), then calls `before_swap` (the caller publishes what goes with the new types; it
  // may throw to abandon), then makes the new set current. Throws (SchemaLoadError naming the
  // type and file, or what `before_swap` threw) and keeps the current set; the problem is kept
  // for /readyz until a reload succeeds.
  void replace(std::vector<MessageTypeSpec> types, const std::function<void()>& before_swap);
  // The last reload's failure ("" after a successful one, or when there was none).
  std::string reload_problem() const;
  // A reload that failed before it reached replace() (the configuration file itself).
  void note_reload_failure(std::string problem);

 private:
  std::vector<MessageTypeSpec> types_;
  Limits limits_;
  std::size_t max_growth_;
  std::size_t max_bytes_;
  std::shared_ptr<const SchemaSet> current_;
  mutable std::mutex reload_mutex_;  // guards types_ and reload_problem_
  std::string reload_problem_;
  std::atomic<std::uint64_t> renewals_{0};
};

}  // namespace cjhub::validation
