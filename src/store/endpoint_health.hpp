// An endpoint's health, moved by every outcome of a send (a delivery row's or a log entry's) and
// by the probes of idle endpoints: a success resets its failure count and ends its open outage,
// a failure opens an outage (or counts another failure in the open one) and, for sends only,
// consecutive failures pause the endpoint at the threshold. Outages begin when the first failed
// exchange began and end when the first successful one began (`at`). Internal to the store; the
// caller's transaction.
#pragma once

#include "store/connection_impl.hpp"

#include <chrono>
#include <string>

namespace cjhub::store::endpoint_health {

using TimePoint = std::chrono::system_clock::time_point;

void succeeded(Transaction& tx, long long endpoint_id, TimePoint at);
// Counts one failure; true when this one paused the endpoint (the count reached the threshold).
bool failed(Transaction& tx, long long endpoint_id, unsigned pause_after_failures, const std::string& reason,
            TimePoint at);
// A probe's outcome: opens or ends an outage like a send's, never moves the failure count.
void probed(Transaction& tx, long long endpoint_id, bool up, const std::string& cause, TimePoint at);

}  // namespace cjhub::store::endpoint_health
