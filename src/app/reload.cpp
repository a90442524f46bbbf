#include "cjhub/app/reload.hpp"

#include <fmt/format.h>

#include <set>

namespace cjhub::app {

namespace {

std::set<std::string> names(const std::vector<config::MessageType>& types) {
  std::set<std::string> out;
  for (const auto& t : types) out.insert(t.spec.name);
  return out;
}

std::string listed(const std::set<std::string>& s) {
  if (s.empty()) return "none";
  std::string out;
  for (const auto& n : s) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::string reload_message_types(const std::filesystem::path& file, const config::Config& live,
                                 validation::SchemaHolder& schemas) {
  config::Config fresh;
  try {
    fresh = config::load(file);
  } catch (const std::exception& e) {
    schemas.note_reload_failure(e.what());
    throw;
  }
  const auto before = names(*live.types->all());
  const auto after = names(fresh.message_types);
  std::set<std::string> added, removed;
  for (const auto& n : after) {
    if (!before.count(n)) added.insert(n);
  }
  for (const auto& n : before) {
    if (!after.count(n)) removed.insert(n);
  }
  // Schemas first (the slow part, and the one that can fail); then the table, then the set, so
  // a document validated by the new set always finds its type in force.
  schemas.replace(fresh.type_specs(), [&] { live.types->replace(fresh.message_types); });
  return fmt::format("message types reloaded: {} type(s) in {} grammar pool(s); added: {}; removed: {}",
                     after.size(), schemas.current()->pool_count(), listed(added), listed(removed));
}

}  // namespace cjhub::app
