#include "cjhub/common/metrics.hpp"

#include <fmt/format.h>

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

void Registry::render(std::string& out) const {
  submissions.render(out);
  validation_failures.render(out);
  ingest_latency.render(out);
  group_size.render(out);
  deliveries.render(out);
  delivery_latency.render(out);
  out += fmt::format("# HELP cjhub_db_pool_busy Database worker jobs running now (status, admin, ledger).\n"
                     "# TYPE cjhub_db_pool_busy gauge\ncjhub_db_pool_busy {}\n",
                     db_pool_busy.load());
}

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace cjhub::metrics
