#include "cjhub/ops/service_manager.hpp"

#include <systemd/sd-daemon.h>

#include "cjhub/common/log.hpp"

namespace cjhub::ops {

ServiceManager::ServiceManager(std::vector<Check> liveness) : liveness_(std::move(liveness)) {}

ServiceManager::~ServiceManager() { stop(std::chrono::steady_clock::now()); }

void ServiceManager::start() {
  std::uint64_t usec = 0;
  // > 0: the unit has WatchdogSec and this is the process it watches (WATCHDOG_PID, if set).
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
  ::sd_notify(0, "READY=1\nSTATUS=serving");
  if (watchdog_.count() == 0) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    name_this_thread("cjhub-watchdog");
    run();
  });
  log::get("ops")->info("systemd watchdog: pinged every {} ms while the hub's loops answer",
                        watchdog_.count() / 2000);
}

void ServiceManager::run() {
  auto lg = log::get("ops");
  std::optional<std::string> hung;  // what did not answer last time (logged once per episode)
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    std::optional<std::string> now;
    for (const auto& check : liveness_) {
      if ((now = check())) break;
    }
    if (!now) {
      ::sd_notify(0, "WATCHDOG=1");
      if (hung) lg->warn("the hub answers again ({} recovered): watchdog pings resumed", *hung);
    } else if (!hung || *hung != *now) {
      lg->error("{} does not answer: no watchdog ping, systemd restarts the hub if this lasts", *now);
    }
    hung = now;
    lock.lock();
    cv_.wait_for(lock, watchdog_ / 2, [this] { return stopping_; });
  }
}

void ServiceManager::stopping() { ::sd_notify(0, "STOPPING=1\nSTATUS=draining"); }

void ServiceManager::status(const std::string& text) { ::sd_notify(0, ("STATUS=" + text).c_str()); }

void ServiceManager::stop(std::chrono::steady_clock::time_point) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cjhub::ops
