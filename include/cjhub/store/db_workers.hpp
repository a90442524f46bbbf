// A small pool of threads, each owning one database connection (opened lazily, reopened after a
// failure), for the blocking reads of the request handlers: status queries and readiness.
// Runs on its own threads; results go back through the callbacks given to post().
#pragma once

#include "cjhub/store/connection.hpp"

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cjhub/common/lifecycle.hpp"

namespace cjhub::store {

class DbWorkers final : public Component {
 public:
  DbWorkers(std::string url, std::size_t threads, std::chrono::milliseconds connect_timeout,
            std::chrono::milliseconds statement_timeout = {});
  ~DbWorkers() override;

  std::string name() const override { return "db-workers"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;

  // Runs `job` on a worker with that worker's connection. `job` may throw; exceptions that mean
  // the database is unreachable close the connection (the next job reconnects) and are passed to
  // `on_error`, as are all others.
  void post(std::function<void(Connection&)> job,
            std::function<void(std::exception_ptr)> on_error);

 private:
  std::string url_;
  std::size_t threads_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds statement_timeout_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace cjhub::store
