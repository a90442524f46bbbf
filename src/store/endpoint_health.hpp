// An endpoint's health, moved by every outcome of a send (a delivery row's or a log entry's): a
// success resets its failure count, consecutive failures pause it at the threshold. Internal to
// the store; the caller's transaction.
#pragma once

#include "store/connection_impl.hpp"

#include <string>

namespace cjhub::store::endpoint_health {

void succeeded(Transaction& tx, long long endpoint_id);
// Counts one failure; true when this one paused the endpoint (the count reached the threshold).
bool failed(Transaction& tx, long long endpoint_id, unsigned pause_after_failures, const std::string& reason);

}  // namespace cjhub::store::endpoint_health
