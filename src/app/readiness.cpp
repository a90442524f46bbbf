#include "cjhub/app/readiness.hpp"

#include <fmt/format.h>

#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::app {

ReadinessProbe::ReadinessProbe(std::string db_url, std::chrono::milliseconds connect_timeout,
                               const validation::SchemaHolder* schemas)
    : url_(std::move(db_url)), connect_timeout_(connect_timeout), schemas_(schemas) {}

ReadinessProbe::~ReadinessProbe() { stop(std::chrono::steady_clock::now()); }

void ReadinessProbe::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ReadinessProbe::stop(std::chrono::steady_clock::time_point) {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<api::Readiness::ComponentState> ReadinessProbe::components() const {
  std::vector<ComponentState> out;
  {
    std::lock_guard lock(mutex_);
    out.push_back({"database", db_ok_, db_detail_});
  }
  const auto set = schemas_ != nullptr ? schemas_->current() : nullptr;
  const bool schemas_ok = set && !set->types().empty();
  out.push_back({"schemas", schemas_ok,
                 schemas_ok ? fmt::format("{} message types, {} grammars", set->types().size(),
                                          set->grammar_count())
                            : "no message types loaded"});
  return out;
}

void ReadinessProbe::run() {
  auto lg = log::get("app");
  std::unique_ptr<pqxx::connection> conn;
  bool was_ok = true;
  while (!stopping_) {
    bool ok = false;
    std::string detail;
    try {
      if (!conn || !conn->is_open()) conn = store::connect(url_, connect_timeout_);
      const auto started = std::chrono::steady_clock::now();
      store::ping(*conn);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started).count();
      ok = true;
      detail = fmt::format("reachable, round trip {} us", us);
    } catch (const std::exception& e) {
      conn.reset();
      detail = "unreachable";
      if (was_ok) lg->warn("readiness: database unreachable: {}", e.what());
    }
    if (ok && !was_ok) lg->info("readiness: database reachable again");
    was_ok = ok;
    {
      std::lock_guard lock(mutex_);
      db_ok_ = ok;
      db_detail_ = detail;
    }
    for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace cjhub::app
