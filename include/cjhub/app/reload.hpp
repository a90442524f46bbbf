// SIGHUP's reload of the message types (the TLS material and the agencies are reloaded by their
// own components).
#pragma once

#include <filesystem>
#include <string>

#include "cjhub/config/config.hpp"
#include "cjhub/validation/schema_holder.hpp"

namespace cjhub::app {

// Reads the configuration file again and puts its message types in force: their schemas are
// loaded beside the current ones (which keep serving meanwhile), then the type table and the
// schema set are swapped. Open connections are not touched. Returns what changed, for the log and
// the audit record; throws, keeping the current types (and noting the problem for /readyz), when
// the file or one of its schemas cannot be used. Other settings in the file need a restart.
std::string reload_message_types(const std::filesystem::path& file, const config::Config& live,
                                 validation::SchemaHolder& schemas);

}  // namespace cjhub::app
