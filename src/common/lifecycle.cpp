#include "cjhub/common/lifecycle.hpp"

#include "cjhub/common/log.hpp"

#include <pthread.h>

namespace cjhub {

void name_this_thread(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

void Lifecycle::start(Component& c) {
  log::get("app")->info("starting {}", c.name());
  c.start();
  started_.push_back(&c);
}

void Lifecycle::stop_all(std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (!started_.empty()) {
    Component* c = started_.back();
    started_.pop_back();
    log::get("app")->info("stopping {}", c->name());
    c->stop(deadline);
  }
}

Lifecycle::~Lifecycle() { stop_all(std::chrono::milliseconds(0)); }

}  // namespace cjhub
