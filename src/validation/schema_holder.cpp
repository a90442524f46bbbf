#include "cjhub/validation/schema_holder.hpp"

#include "cjhub/common/log.hpp"

namespace cjhub::validation {

SchemaHolder::SchemaHolder(std::vector<MessageTypeSpec> types, Limits limits, std::size_t max_namespace_growth,
                           std::size_t max_namespace_bytes)
    : types_(std::move(types)), limits_(limits), max_growth_(max_namespace_growth), max_bytes_(max_namespace_bytes) {
  current_ = SchemaSet::load(types_, limits_);
}

bool SchemaHolder::renew_if_grown() {
  const auto over = [&](const SchemaSet& s) {
    return s.namespace_pool_growth() > max_growth_ || s.namespace_pool_bytes() > max_bytes_;
  };
  if (!over(*current())) return false;
  std::unique_lock lock(reload_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // another thread is renewing (or reloading)
  const auto old = current();
  if (!over(*old)) return false;
  try {
    std::atomic_store(&current_, SchemaSet::load(types_, limits_));
    renewals_.fetch_add(1);
    log::get("validation")->warn(
        "namespace table grew by {} URIs, {} bytes (limits {} URIs, {} bytes): schemas reloaded; the "
        "old set is freed when the last validator lets go",
        old->namespace_pool_growth(), old->namespace_pool_bytes(), max_growth_, max_bytes_);
    return true;
  } catch (const std::exception& e) {
    log::get("validation")->error("schema reload failed, keeping the current set: {}", e.what());
    return false;
  }
}

void SchemaHolder::replace(std::vector<MessageTypeSpec> types, const std::function<void()>& before_swap) {
  std::lock_guard lock(reload_mutex_);
  try {
    auto fresh = SchemaSet::load(types, limits_);
    if (before_swap) before_swap();
    types_ = std::move(types);
    std::atomic_store(&current_, std::shared_ptr<const SchemaSet>(std::move(fresh)));
    reload_problem_.clear();
  } catch (const std::exception& e) {
    reload_problem_ = e.what();
    throw;
  }
}

void SchemaHolder::note_reload_failure(std::string problem) {
  std::lock_guard lock(reload_mutex_);
  reload_problem_ = std::move(problem);
}

std::string SchemaHolder::reload_problem() const {
  std::lock_guard lock(reload_mutex_);
  return reload_problem_;
}

}  // namespace cjhub::validation
