// The hub as a systemd service (`Type=notify`): READY=1 once it serves, STOPPING=1 when a drain
// begins, STATUS= lines a `systemctl status` shows, and, when the unit sets WatchdogSec,
// WATCHDOG=1 every half of it while the hub's loops answer, so that systemd restarts a hung hub
// (and only a hung one: a database outage stops neither loop). Outside systemd (no NOTIFY_SOCKET)
// every call does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cjhub/common/lifecycle.hpp"

namespace cjhub::ops {

class ServiceManager final : public Component {
 public:
  // A liveness check: nullopt while the part it checks answers, else what does not.
  using Check = std::function<std::optional<std::string>()>;
  explicit ServiceManager(std::vector<Check> liveness);
  ~ServiceManager() override;
  std::string name() const override { return "service-manager"; }
  // READY=1 and the watchdog thread (when the unit asks for one).
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  void stopping();  // STOPPING=1
  void status(const std::string& text);
  std::chrono::microseconds watchdog_interval() const { return watchdog_; }

 private:
  void run();
  std::vector<Check> liveness_;
  std::chrono::microseconds watchdog_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cjhub::ops
