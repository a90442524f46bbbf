// Shared set-up of the libFuzzer targets: the example configuration with the CISS schemas, the
// example agencies, a Xerces runtime; built once per process.
#pragma once

#include <cstdlib>
#include <memory>

#include "cjhub/config/agencies.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/validation/schema_holder.hpp"
#include "cjhub/validation/validator.hpp"

namespace cjhub::fuzz {

struct World {
  validation::XercesRuntime xerces;
  config::Config config;
  std::unique_ptr<validation::SchemaHolder> schemas;
  identity::Directory directory;

  World() {
    const std::string src = CJHUB_SOURCE_DIR;
    setenv("CJHUB_TLS_DIR", (src + "/tests/data/config/fake-tls").c_str(), 1);
    setenv("CJHUB_DATABASE_URL", "postgresql://fuzz@127.0.0.1:1/none", 1);
    setenv("CJHUB_LOG_LEVEL", "off", 1);
    config = config::load(src + "/config/cjhub.example.yaml");
    log::Settings quiet;
    quiet.level = "off";
    log::setup(quiet);
    schemas = std::make_unique<validation::SchemaHolder>(config.type_specs(), validation::Limits{256, 1024});
    std::vector<std::string> types;
    for (const auto& t : config.message_types) types.push_back(t.spec.name);
    const auto file = config::load_agencies(src + "/config/agencies.example.yaml", types);
    directory.replace(std::make_shared<const identity::Snapshot>(file.agencies, std::vector<config::Agency>{}));
  }
};

inline World& world() {
  static World w;
  return w;
}

}  // namespace cjhub::fuzz
