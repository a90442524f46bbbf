// Process metrics in the Prometheus text format: labelled counters and fixed-bucket histograms,
// updated from any thread without locks on the hot path (a mutex only when a new label set
// appears), rendered by GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
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
  CounterFamily deliveries{"cjhub_delivery_attempts_total",
                           "Delivery attempts by outcome (delivered, retry, dead, suppressed).", {"outcome"}};
  Histogram delivery_latency{"cjhub_delivery_latency_seconds",
                             "One delivery attempt: connect (or reuse), send, the endpoint's answer.",
                             {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  std::atomic<std::int64_t> db_pool_busy{0};  // database worker jobs running now

  void render(std::string& out) const;
};

Registry& registry();

}  // namespace cjhub::metrics
