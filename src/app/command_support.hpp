// What the commands that work on the database share: opening it with the exit statuses of
// commands.hpp, and the audit record of an operator's change.
#pragma once

#include <filesystem>
#include <iostream>
#include <string>
#include <type_traits>

#include "cjhub/app/commands.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::app {

// Writes an audit record of a command's change (a warning on stderr when it cannot).
void audit_cli(store::Connection& conn, std::string action, std::string outcome, std::string object,
               std::string detail);

// Loads the configuration (kExitUsage when invalid), connects and runs `fn` with the connection
// (and the configuration, when `fn` takes it). A value the database refuses (--since 2026-13-01)
// is a usage error; any other failure, the database unreachable first of all, is kExitCannotRun.
template <class F>
int with_database(const std::filesystem::path& file, F&& fn) {
  auto c = load_config(file);
  if (!c) return kExitUsage;
  log::setup(c->logging);
  try {
    auto conn = store::connect(c->database.url, c->database.connect_timeout);
    if constexpr (std::is_invocable_v<F, store::Connection&, const config::Config&>) {
      return fn(*conn, *c);
    } else {
      return fn(*conn);
    }
  } catch (const store::DbInvalidValue& e) {
    std::cerr << "cjhub: a value given is out of range: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "cjhub: could not run: " << e.what() << "\n";
    return kExitCannotRun;
  }
}

}  // namespace cjhub::app
