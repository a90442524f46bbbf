#include "cjhub/validation/schema_holder.hpp"

#include "cjhub/common/log.hpp"

namespace cjhub::validation {

SchemaHolder::SchemaHolder(std::vector<MessageTypeSpec> types, Limits limits, std::size_t max_namespace_growth)
    : types_(std::move(types)), limits_(limits), max_growth_(max_namespace_growth) {
  current_ = SchemaSet::load(types_, limits_);
}

bool SchemaHolder::renew_if_grown() {
  if (current()->namespace_pool_growth() <= max_growth_) return false;
  std::unique_lock lock(reload_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // another thread is renewing
  const auto old = current();
  if (old->namespace_pool_growth() <= max_growth_) return false;
  try {
    std::atomic_store(&current_, SchemaSet::load(types_, limits_));
    renewals_.fetch_add(1);
    log::get("validation")->warn(
        "namespace table grew by {} URIs (limit {}): schemas reloaded; the old set is freed when "
        "the last validator lets go",
        old->namespace_pool_growth(), max_growth_);
    return true;
  } catch (const std::exception& e) {
    log::get("validation")->error("schema reload failed, keeping the current set: {}", e.what());
    return false;
  }
}

}  // namespace cjhub::validation
