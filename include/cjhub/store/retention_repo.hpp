// Retention in the store: payloads nothing needs any more, and old finished deliveries.
#pragma once

#include "cjhub/store/connection.hpp"

#include <string>

namespace cjhub::store {

// Removes the payloads of up to `batch` messages received before `cutoff` (timestamptz text) that
// every recipient has (and, where required, has acknowledged); their rows, hashes and times stay.
// Returns how many.
std::size_t purge_payloads(Connection& conn, const std::string& cutoff, long long batch);

struct PruneResult {
  std::size_t scanned = 0;  // deliveries looked at (0: nothing older than the cut-off is left)
  std::size_t removed = 0;  // finished, not part of an erasure's ledger: deleted
};
// The next `batch` deliveries created before `cutoff`, from where the previous call stopped.
// Dead letters and erasure deliveries are kept.
PruneResult prune_deliveries(Connection& conn, const std::string& cutoff, long long batch);
// Up to `batch` of the log's attempt records (`log_answers`, one per endpoint and round) recorded
// before `cutoff`, the same age as the finished deliveries pruned with them. Returns how many.
std::size_t prune_log_answers(Connection& conn, const std::string& cutoff, long long batch);

// Serializes retention across hubs on one database (a session advisory lock).
bool try_retention_lock(Connection& conn);
void retention_unlock(Connection& conn);

}  // namespace cjhub::store
