#include "cjhub/store/session.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <poll.h>

#include <algorithm>
#include <pqxx/notification>
#include <thread>

namespace cjhub::store {

class Session::Listener final : public pqxx::notification_receiver {
 public:
  Listener(pqxx::connection_base& c, const std::string& channel, bool& flag)
      : pqxx::notification_receiver(c, channel), flag_(flag) {}
  void operator()(const std::string&, int) override { flag_ = true; }

 private:
  bool& flag_;
};

Session::Session(std::string url, std::chrono::milliseconds connect_timeout,
                 std::chrono::milliseconds statement_timeout, std::vector<std::string> channels)
    : url_(std::move(url)),
      connect_timeout_(connect_timeout),
      statement_timeout_(statement_timeout),
      channels_(std::move(channels)) {}

Session::~Session() { reset(); }

Connection& Session::get() {
  if (conn_ && conn_->is_open()) return *conn_;
  reset();
  auto conn = connect(url_, connect_timeout_, statement_timeout_);
  std::vector<std::unique_ptr<Listener>> listeners;
  try {
    translate_errors([&] {
      if (generic_plans_) conn->set_variable("plan_cache_mode", "force_generic_plan");
      for (const auto& ch : channels_) listeners.push_back(std::make_unique<Listener>(*conn, ch, notified_));
    });
  } catch (...) {
    listeners.clear();
    throw;
  }
  conn_ = std::move(conn);
  listeners_ = std::move(listeners);
  ++generation_;
  notified_ = true;
  return *conn_;
}

bool Session::connected() const { return conn_ && conn_->is_open(); }

void Session::reset() {
  listeners_.clear();
  conn_.reset();
}

bool Session::take_notified() { return std::exchange(notified_, false); }

void Session::run_step(const std::function<void(Connection&)>& step) {
  try {
    auto& c = get();
    translate_errors([&] { step(c); });
    backoff_ = std::chrono::milliseconds(0);
  } catch (const std::exception& e) {
    drop_if_gone(e);
    throw;
  }
}

void Session::drop_if_gone(const std::exception& e) noexcept {
  const bool gone = dynamic_cast<const DbOutcomeUnknown*>(&e) != nullptr || is_connection_failure(e) ||
                    (conn_ && !conn_->is_open());
  if (gone) reset();
}

Session::Woken Session::wait(std::chrono::milliseconds timeout, int also_fd) {
  pollfd fds[2];
  nfds_t n = 0;
  int db = -1;
  if (connected()) {
    fds[n++] = {conn_->sock(), POLLIN, 0};
    db = 0;
  }
  int other = -1;
  if (also_fd >= 0) {
    other = static_cast<int>(n);
    fds[n++] = {also_fd, POLLIN, 0};
  }
  if (n == 0) {
    std::this_thread::sleep_for(timeout);
    return Woken::timeout;
  }
  const int ready = ::poll(fds, n, static_cast<int>(timeout.count()));
  Woken woken = Woken::timeout;
  if (ready > 0 && other >= 0 && (fds[other].revents & POLLIN)) woken = Woken::other_fd;
  if (db >= 0 && ready > 0) {
    try {
      translate_errors([&] { conn_->get_notifs(); });
    } catch (...) {
      reset();  // a connection that fails while idle is not worth keeping
      throw;
    }
    if (notified_ && woken == Woken::timeout) woken = Woken::notification;
  }
  return woken;
}

void Session::back_off(const std::function<bool()>& stopping) {
  backoff_ = backoff_.count() == 0 ? kBackoffMin : std::min(kBackoffMax, backoff_ * 2);
  const auto until = std::chrono::steady_clock::now() + backoff_;
  while (std::chrono::steady_clock::now() < until) {
    if (stopping && stopping()) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  }
}

}  // namespace cjhub::store
