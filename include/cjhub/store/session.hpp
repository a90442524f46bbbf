// A long-lived thread's database session: one connection, opened when first needed, dropped when
// it fails, opened again with bounded backoff; LISTEN on the session's channels again after every
// reconnect. Every thread that keeps a connection (the writers, the dispatcher, the directory
// refresher, the audit trail, the readiness probe, the database workers) holds one, so the rules
// for a lost database live here once.
//
// Error policy: `run` translates failures into the store's types (DbUnavailable,
// DbOutcomeUnknown, DbRetryable, DbInvalidValue; anything else rethrown) and drops the connection when the
// failure means it is gone or in doubt; the caller decides what the failure means for its work.
// Not thread-safe: one session per thread.
#pragma once

#include "cjhub/store/connection.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cjhub/store/database.hpp"

namespace cjhub::store {

class Session {
 public:
  // `statement_timeout` 0: none. `channels`: LISTEN on each after every connect.
  Session(std::string url, std::chrono::milliseconds connect_timeout,
          std::chrono::milliseconds statement_timeout = {}, std::vector<std::string> channels = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The open connection, connecting (and subscribing) first when there is none. Throws
  // DbUnavailable when the server cannot be reached.
  Connection& get();

  // Runs fn(connection) with errors translated; a connection failure or an in-doubt commit drops
  // the connection (the next call reconnects). A call that returns resets the backoff.
  template <class F>
  auto run(F&& fn) -> decltype(fn(std::declval<Connection&>()));
  // The same, for a step that returns nothing.
  void run_step(const std::function<void(Connection&)>& step);

  // Every connection this session opens runs its prepared statements on their generic plans
  // (`plan_cache_mode`). For a thread whose statements take arrays and keys, whose best plan does
  // not depend on the values (the ingest writers): PostgreSQL would otherwise plan some of them
  // again for each call's values whenever its statistics move, for no faster plan.
  void use_generic_plans() { generic_plans_ = true; }

  bool connected() const;
  // Closes the connection (and its subscriptions); the next `get` or `run` opens a new one.
  void reset();
  // How many connections this session has opened: a change means a reconnect happened.
  std::uint64_t generation() const { return generation_; }

  // True once after a NOTIFY on one of the channels, and after every (re)connect, since changes
  // made while nobody listened count too.
  bool take_notified();

  enum class Woken { timeout, notification, other_fd };
  // Waits up to `timeout` for a NOTIFY (and for `also_fd` to become readable, when given).
  // Without a connection it waits on `also_fd` alone. A connection that fails while waiting is
  // dropped.
  Woken wait(std::chrono::milliseconds timeout, int also_fd = -1);

  // After a failed round: sleeps for the current backoff (doubling from 100 ms to 1 s) in short
  // slices, returning early when `stopping` says so.
  void back_off(const std::function<bool()>& stopping = {});
  std::chrono::milliseconds current_backoff() const { return backoff_; }

 private:
  void drop_if_gone(const std::exception& e) noexcept;

  class Listener;
  static constexpr std::chrono::milliseconds kBackoffMin{100};
  static constexpr std::chrono::milliseconds kBackoffMax{1000};
  std::string url_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds statement_timeout_;
  bool generic_plans_ = false;
  std::vector<std::string> channels_;
  ConnectionPtr conn_;
  std::vector<std::unique_ptr<Listener>> listeners_;  // destroyed before the connection
  bool notified_ = false;
  std::uint64_t generation_ = 0;
  std::chrono::milliseconds backoff_{0};
};

template <class F>
auto Session::run(F&& fn) -> decltype(fn(std::declval<Connection&>())) {
  using R = decltype(fn(std::declval<Connection&>()));
  if constexpr (std::is_void_v<R>) {
    run_step([&](Connection& c) { fn(c); });
  } else {
    std::optional<R> result;
    run_step([&](Connection& c) { result.emplace(fn(c)); });
    return std::move(*result);
  }
}

}  // namespace cjhub::store
