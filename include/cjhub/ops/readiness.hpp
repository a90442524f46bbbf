// Keeps the readiness state that /readyz reports: a background probe (own database connection)
// checks the database every second, the TLS material on disk and the delivery endpoints' backlog
// every few seconds (and exports the certificates' and the CRL's dates as metrics); the dispatchers and the schema holder report their own state.
#pragma once

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "cjhub/api/handlers.hpp"
#include "cjhub/common/lifecycle.hpp"
#include "cjhub/ops/component_history.hpp"
#include "cjhub/ops/metrics.hpp"

namespace cjhub::store {
class Session;
}

namespace cjhub::ops {

struct ReadinessSettings {
  std::string db_url;
  std::chrono::milliseconds connect_timeout{5000};
  const validation::SchemaHolder* schemas = nullptr;
  // (name, certificate file): the server's and the delivery client's.
  std::vector<std::pair<std::string, std::filesystem::path>> certificates;
  std::optional<std::filesystem::path> crl;
  int expiry_warning_days = 30;
  // (label, PEM file) whose earliest notAfter is exported as
  // cjhub_certificate_expiry_timestamp_seconds{certificate=label}: server, client, ca, endpoint_ca.
  std::vector<std::pair<std::string, std::filesystem::path>> expiry_metrics;
  // The most recent dispatcher round (ms since the epoch); empty when delivery is off.
  std::function<std::int64_t()> dispatcher_last_round_ms;
  std::chrono::milliseconds dispatcher_stale_after{10000};
  std::chrono::seconds endpoint_backlog_warning{900};  // oldest unfinished delivery older: warning
  // The agency directory's age: a warning past two refresh intervals, failing past the maximum
  // (when the handlers refuse for it). Empty: no such component.
  std::function<std::chrono::milliseconds()> directory_age;
  std::chrono::seconds directory_refresh{30};
  std::chrono::seconds directory_max_age{120};
  // The hub's own availability: every second's component states are written per minute this often
  // (watchers.flush_interval_s), under this hub's name (empty: host:pid:random).
  std::chrono::seconds history_flush{60};
  std::string instance;
};

class ReadinessProbe final : public Component, public api::Readiness {
 public:
  explicit ReadinessProbe(ReadinessSettings s);
  ~ReadinessProbe() override;
  std::string name() const override { return "readiness-probe"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  std::vector<ComponentState> components() const override;
  bool ready() const;  // every component ok
  std::vector<api::BacklogSample> backlog_history() const override;
  // From now on not ready (component `process`: draining), until the process ends.
  void begin_drain();

 private:
  void run();
  void keep_history(store::Session& db);  // this second's states; written when due
  void keep_backlog(long long total);     // a sample every kBacklogSpacing, for the console's chart
  static constexpr auto kBacklogSpacing = std::chrono::seconds(10);
  static constexpr std::size_t kBacklogSamples = 360;  // an hour
  std::deque<api::BacklogSample> backlog_;  // guarded by mutex_
  ReadinessSettings s_;
  ComponentHistory history_;
  std::chrono::steady_clock::time_point history_written_{std::chrono::steady_clock::now()};
  mutable std::mutex mutex_;
  ComponentState db_{"database", false, "not checked yet"};
  ComponentState tls_{"tls", false, "not checked yet"};
  std::optional<ComponentState> crl_;
  std::optional<ComponentState> endpoints_;
  // From the files on disk every few seconds, for the metrics: label -> notAfter (Unix time).
  std::map<std::string, std::int64_t> not_after_;
  std::optional<std::int64_t> crl_next_update_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::thread thread_;
  metrics::CollectorRegistration metrics_;
};

}  // namespace cjhub::ops
