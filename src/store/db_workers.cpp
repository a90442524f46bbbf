#include "cjhub/store/db_workers.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include "cjhub/ops/metrics.hpp"

#include <boost/asio/post.hpp>

#include "cjhub/store/database.hpp"
#include "cjhub/store/session.hpp"

namespace cjhub::store {

DbWorkers::DbWorkers(std::string url, std::size_t threads, std::chrono::milliseconds connect_timeout,
                     std::chrono::milliseconds statement_timeout)
    : url_(std::move(url)),
      threads_(threads),
      connect_timeout_(connect_timeout),
      statement_timeout_(statement_timeout) {}

DbWorkers::~DbWorkers() { stop(std::chrono::steady_clock::now()); }

void DbWorkers::start() { pool_ = std::make_unique<boost::asio::thread_pool>(threads_); }

void DbWorkers::stop(std::chrono::steady_clock::time_point) {
  if (!pool_) return;
  pool_->join();
  pool_.reset();
}

void DbWorkers::post(std::function<void(Connection&)> job,
                     std::function<void(std::exception_ptr)> on_error) {
  if (!pool_) {
    on_error(std::make_exception_ptr(DbUnavailable("database workers are not running")));
    return;
  }
  boost::asio::post(*pool_, [this, job = std::move(job), on_error = std::move(on_error)] {
    // One session per worker thread, kept between jobs. A thread_local keyed by this pool.
    thread_local std::unique_ptr<Session> db;
    thread_local const DbWorkers* owner = nullptr;
    if (owner != this || !db) {
      db = std::make_unique<Session>(url_, connect_timeout_, statement_timeout_);
      owner = this;
    }
    auto& busy = metrics::registry().db_pool_busy;
    busy.fetch_add(1);
    struct Done {
      std::atomic<std::int64_t>& b;
      ~Done() { b.fetch_sub(1); }
    } done{busy};
    try {
      db->run(job);  // a lost connection is dropped there and opened again by the next job
    } catch (const std::exception&) {
      on_error(std::current_exception());
    } catch (...) {
      on_error(std::current_exception());
    }
  });
}

}  // namespace cjhub::store
