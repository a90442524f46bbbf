// Process metrics in the Prometheus text format, in one registry rendered by GET /metrics:
// labelled counters and fixed-bucket histograms updated from any thread without locks on the hot
// path (a mutex only when a new label set appears), and collectors: a component that keeps its own
// counters (a writer's groups, a server's connections) registers a function that reports them when
// scraped, from start() until stop(). Samples of the same series from several collectors (two
// dispatchers) are summed; every family is rendered once, with one HELP and TYPE.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cjhub::metrics {

// A counter per label set ("type=\"ArrestPacket\",outcome=\"accepted\"").
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  // `values` in the order of the label names.
  void add(const std::vector<std::string>& values, std::uint64_t n = 1);
  std::uint64_t value(const std::vector<std::string>& values) const;
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>> series_;
};

// A histogram with fixed upper bounds (seconds, sizes, ...).
class Histogram {
 public:
  Histogram(std::string name, std::string help, std::vector<double> bounds);
  void observe(double v);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micro_{0};  // sum in millionths
};

// Escapes a label value (backslash, quote, newline).
std::string label_value(const std::string& v);

// One sample a collector reports: `labels` already rendered (`endpoint="3",ori="CT0000000"`), or
// empty.
struct Sample {
  std::string name;
  std::string help;
  const char* type = "counter";  // "counter" or "gauge"
  std::string labels;
  double value = 0;
};
using Collector = std::function<void(std::vector<Sample>& out)>;

// The hub's own metrics, shared by the modules that feed them.
struct Registry {
  CounterFamily submissions{"cjhub_submissions_total",
                            "Message submissions by message type and outcome (accepted, duplicate, refused:<problem>).",
                            {"type", "outcome"}};
  CounterFamily validation_failures{"cjhub_validation_failures_total",
                                    "Submissions refused by validation, by problem type.", {"problem"}};
  Histogram ingest_latency{"cjhub_ingest_latency_seconds",
                           "From the end of a submission's request to its answer (validation, commit).",
                           {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram group_size{"cjhub_ingest_group_size", "Messages stored per group-commit transaction.",
                       {1, 2, 4, 8, 16, 32, 64, 128, 256}};
  // Where a submission's answer time goes between validation and its answer: waiting for a
  // writer, then its group's transaction.
  Histogram ingest_queue_wait{"cjhub_ingest_queue_wait_seconds",
                              "From a validated message entering the writers' queue to its group's transaction "
                              "beginning.",
                              {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  Histogram ingest_commit{"cjhub_ingest_commit_seconds",
                          "One group-commit transaction that stored its group, from its first statement to its COMMIT "
                          "returning (round trips, lock waits and the WAL flush included).",
                          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  CounterFamily deliveries{"cjhub_delivery_attempts_total",
                           "Delivery attempts by outcome (delivered, retry, dead, suppressed).", {"outcome"}};
  Histogram delivery_latency{"cjhub_delivery_latency_seconds",
                             "One delivery attempt: connect (or reuse), send, the endpoint's answer.",
                             {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  CounterFamily probes{"cjhub_endpoint_probes_total",
                       "Probes of idle endpoints by result (up: any answer but 408, 429 or 5xx).", {"result"}};
  std::atomic<std::int64_t> db_pool_busy{0};  // database worker jobs running now

  // A collector's samples are rendered with every scrape until it is removed (by its id).
  int add_collector(Collector c);
  void remove_collector(int id);
  // The process's identity: cjhub_build_info{version,commit} and process_start_time_seconds.
  void set_build(std::string version, std::string commit);

  void render(std::string& out) const;

 private:
  mutable std::mutex collectors_mutex_;
  std::map<int, Collector> collectors_;
  int next_collector_ = 1;
  std::string version_, commit_;
  double start_time_ = 0;
};

Registry& registry();

// A component's collector, registered from its start() (`set`) until its stop() or destruction.
class CollectorRegistration {
 public:
  CollectorRegistration() = default;
  CollectorRegistration(const CollectorRegistration&) = delete;
  CollectorRegistration& operator=(const CollectorRegistration&) = delete;
  ~CollectorRegistration() { reset(); }
  void set(Collector c);
  void reset();

 private:
  int id_ = 0;
};

}  // namespace cjhub::metrics
