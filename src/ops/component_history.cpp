#include "cjhub/ops/component_history.hpp"

namespace cjhub::ops {

void ComponentHistory::sample(const std::vector<api::Readiness::ComponentState>& components,
                              std::chrono::system_clock::time_point at) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const std::int64_t minute = secs - ((secs % 60) + 60) % 60;
  std::lock_guard lock(mu_);
  const auto add = [&](const std::string& name, bool ok) {
    auto [it, fresh] = rows_.try_emplace({minute, name});
    if (fresh) {
      it->second.minute = minute;
      it->second.component = name;
    }
    (ok ? it->second.ok_s : it->second.down_s) += 1;
  };
  bool all = true;
  for (const auto& c : components) {
    add(c.name, c.ok);
    all = all && c.ok;
  }
  add("overall", all);
  while (rows_.size() > max_rows_) {
    rows_.erase(rows_.begin());
    ++dropped_;
  }
}

std::vector<store::ComponentSeconds> ComponentHistory::take() {
  std::lock_guard lock(mu_);
  std::vector<store::ComponentSeconds> out;
  out.reserve(rows_.size());
  for (auto& [key, r] : rows_) out.push_back(r);
  rows_.clear();
  return out;
}

void ComponentHistory::restore(const std::vector<store::ComponentSeconds>& rows) {
  std::lock_guard lock(mu_);
  for (const auto& r : rows) {
    auto [it, fresh] = rows_.try_emplace({r.minute, r.component}, r);
    if (fresh) continue;
    it->second.ok_s += r.ok_s;
    it->second.down_s += r.down_s;
  }
  while (rows_.size() > max_rows_) {
    rows_.erase(rows_.begin());
    ++dropped_;
  }
}

std::uint64_t ComponentHistory::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace cjhub::ops
