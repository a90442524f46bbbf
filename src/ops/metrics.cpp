#include "cjhub/ops/metrics.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

namespace cjhub::metrics {

std::string label_value(const std::string& v) {
  std::string s;
  s.reserve(v.size());
  for (const char c : v) {
    if (c == '\\' || c == '"') s += '\\';
    if (c == '\n') {
      s += "\\n";
      continue;
    }
    s += c;
  }
  return s;
}

CounterFamily::CounterFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(label_names)) {}

namespace {
std::string key_of(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string k;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) k += ',';
    k += names[i] + "=\"" + label_value(i < values.size() ? values[i] : std::string()) + "\"";
  }
  return k;
}
}  // namespace

void CounterFamily::add(const std::vector<std::string>& values, std::uint64_t n) {
  const auto key = key_of(labels_, values);
  std::lock_guard lock(mutex_);
  auto& slot = series_[key];
  if (!slot) slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  slot->fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t CounterFamily::value(const std::vector<std::string>& values) const {
  const auto key = key_of(labels_, values);
  std::lock_guard lock(mutex_);
  const auto it = series_.find(key);
  return it == series_.end() ? 0 : it->second->load();
}

void CounterFamily::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name_, help_, name_);
  std::lock_guard lock(mutex_);
  for (const auto& [k, v] : series_) out += fmt::format("{}{{{}}} {}\n", name_, k, v->load());
}

Histogram::Histogram(std::string name, std::string help, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      bounds_(std::move(bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size()]) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<std::uint64_t>(std::llround(std::max(0.0, v) * 1e6)), std::memory_order_relaxed);
}

void Histogram::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name_, help_, name_);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name_, bounds_[i], cumulative);
  }
  const auto n = count_.load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name_, n);
  out += fmt::format("{}_sum {}\n", name_, static_cast<double>(sum_micro_.load()) / 1e6);
  out += fmt::format("{}_count {}\n", name_, n);
}

int Registry::add_collector(Collector c) {
  std::lock_guard lock(collectors_mutex_);
  const int id = next_collector_++;
  collectors_.emplace(id, std::move(c));
  return id;
}

void Registry::remove_collector(int id) {
  std::lock_guard lock(collectors_mutex_);
  collectors_.erase(id);
}

void Registry::set_build(std::string version, std::string commit) {
  std::lock_guard lock(collectors_mutex_);
  version_ = std::move(version);
  commit_ = std::move(commit);
  start_time_ = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()) /
                1000.0;
}

namespace {
std::string number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}
}  // namespace

void Registry::render(std::string& out) const {
  {
    std::lock_guard lock(collectors_mutex_);
    if (!version_.empty()) {
      out += fmt::format("# HELP cjhub_build_info The running binary: version and commit (value 1).\n"
                         "# TYPE cjhub_build_info gauge\ncjhub_build_info{{version=\"{}\",commit=\"{}\"}} 1\n",
                         label_value(version_), label_value(commit_));
      out += fmt::format("# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
                         "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {:.3f}\n",
                         start_time_);
    }
    // Collected samples: one family per name (the first HELP and TYPE), one series per label set,
    // several collectors' values of a series summed.
    std::vector<Sample> samples;
    for (const auto& [id, c] : collectors_) c(samples);
    struct Family {
      std::string help;
      const char* type;
      std::map<std::string, double> series;
    };
    std::map<std::string, Family> families;
    for (auto& s : samples) {
      auto [it, fresh] = families.try_emplace(s.name, Family{std::move(s.help), s.type, {}});
      it->second.series[s.labels] += s.value;
    }
    for (const auto& [name, f] : families) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
      for (const auto& [labels, v] : f.series) {
        out += labels.empty() ? fmt::format("{} {}\n", name, number(v))
                              : fmt::format("{}{{{}}} {}\n", name, labels, number(v));
      }
    }
  }
  submissions.render(out);
  validation_failures.render(out);
  ingest_latency.render(out);
  group_size.render(out);
  ingest_queue_wait.render(out);
  ingest_commit.render(out);
  deliveries.render(out);
  delivery_latency.render(out);
  probes.render(out);
  out += fmt::format("# HELP cjhub_db_pool_busy Database worker jobs running now (status, admin, ledger).\n"
                     "# TYPE cjhub_db_pool_busy gauge\ncjhub_db_pool_busy {}\n",
                     db_pool_busy.load());
}

Registry& registry() {
  static Registry r;
  return r;
}

void CollectorRegistration::set(Collector c) {
  reset();
  id_ = registry().add_collector(std::move(c));
}

void CollectorRegistration::reset() {
  if (id_ != 0) registry().remove_collector(id_);
  id_ = 0;
}

}  // namespace cjhub::metrics
