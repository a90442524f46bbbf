// Holds the current SchemaSet and replaces it with a freshly loaded one when Xerces' shared
// namespace-URI table (which keeps every URI any document ever declared) has grown past a limit
// in URIs or in bytes, so hostile documents full of made-up namespaces cannot grow the hub's
// memory without bound.
// Also the place a configuration reload swaps schemas in.
#pragma once

#include <atomic>
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

 private:
  std::vector<MessageTypeSpec> types_;
  Limits limits_;
  std::size_t max_growth_;
  std::size_t max_bytes_;
  std::shared_ptr<const SchemaSet> current_;
  std::mutex reload_mutex_;
  std::atomic<std::uint64_t> renewals_{0};
};

}  // namespace cjhub::validation
