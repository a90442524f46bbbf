// Keeps the readiness state that /readyz reports: a background probe of the database
// (own connection, every second) plus the components that report their own state.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "cjhub/api/handlers.hpp"
#include "cjhub/common/lifecycle.hpp"

namespace cjhub::app {

class ReadinessProbe final : public Component, public api::Readiness {
 public:
  ReadinessProbe(std::string db_url, std::chrono::milliseconds connect_timeout,
                 const validation::SchemaHolder* schemas);
  ~ReadinessProbe() override;
  std::string name() const override { return "readiness-probe"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  std::vector<ComponentState> components() const override;

 private:
  void run();
  std::string url_;
  std::chrono::milliseconds connect_timeout_;
  const validation::SchemaHolder* schemas_;
  mutable std::mutex mutex_;
  bool db_ok_ = false;
  std::string db_detail_ = "not checked yet";
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace cjhub::app
