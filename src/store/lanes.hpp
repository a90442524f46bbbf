// Lanes: the deliveries of one case to one endpoint, which leave in store order, whether they are
// entries on the log or rows. A lane's rows wait behind its entries still on the log. Routing,
// completions, acknowledgements, erasures and replays all move lanes; they do it through these.
// Case locks are taken in case-key order by every transaction that touches lanes, so two of them
// can never wait on each other.
#pragma once

#include "store/connection_impl.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cjhub::store::lanes {

using Lane = std::pair<long long, std::string>;  // endpoint id, case key

// Takes the case locks (sorted, empty keys dropped), held until the transaction ends.
void lock_cases(Transaction& tx, std::vector<std::string> case_keys);
// The next queued delivery of the lane becomes pending once nothing earlier is pending or in
// flight. The caller holds the case's lock.
void promote(Transaction& tx, long long endpoint_id, const std::string& case_key);
// Every lane of one case (after an erasure suppressed their heads). The caller holds its lock.
void promote_case(Transaction& tx, const std::string& case_key);
// The same for many lanes in one statement. The caller holds the cases' locks.
void promote_all(Transaction& tx, const std::set<Lane>& lanes);
// For an endpoint whose entries are all finished up to `position` (its round's low-water mark, stored
// or not): the queued heads (row id, case key) of lanes
// it passed, or that nothing unfinished on the log precedes any more, read without locks so the
// caller can lock their cases with its others, in order.
std::vector<std::pair<std::string, std::string>> passed_heads(Transaction& tx, long long endpoint_id,
                                                             long long position);
// Those heads go on, each once nothing of its lane is pending or in flight. The caller holds the
// cases' locks. Returns how many.
std::size_t promote_heads(Transaction& tx, const std::vector<std::string>& ids);
// After a committed transaction (a round, or routing): the queued heads of the endpoint's lanes that
// nothing unfinished precedes any more (`passed_heads` at `position`), in a transaction of their
// own that takes their cases' locks first, in order, holding nothing else (as every writer takes
// them), then looks them up again under the locks. Returns how many went on. Lost in a crash, the
// endpoint's next round finds them again.
std::size_t promote_freed(pqxx::connection_base& conn, long long endpoint_id, long long position);
// After a committed transaction that queued rows behind entries of these endpoints' logs
// (Transaction::settle_lanes_on_commit). Neither that transaction nor a round recording one of
// those entries at the same time saw the other's uncommitted work, so whichever commits second
// must look again: the round does (its second look at the heads, after its cursor moved); this
// waits for any round of the endpoints still holding their cursors (FOR SHARE, in a transaction
// of its own that holds nothing else, so no lock order is added) and then promotes what is freed.
// A round that moves a cursor after that wait began sees the rows itself. Errors are logged, never
// raised: the transaction is committed and the endpoint's next round finds the rows.
void settle(pqxx::connection_base& conn, const std::set<long long>& endpoint_ids) noexcept;
// Locks the lanes' cases, then promotes them.
void lock_and_promote(Transaction& tx, const std::set<Lane>& lanes);
// Wakes the dispatchers of every hub once the transaction has committed: NOTIFY cjhub_deliveries
// in a transaction of its own right after the commit (Transaction::commit), never inside the
// caller's. PostgreSQL holds a database-wide lock from a notifying transaction's commit until it
// ends, its WAL flush included: notifying in every storing transaction made the writers' commits
// wait for one another's flushes instead of sharing them. The wake-up's own commit does not wait
// for the disk (a lost wake-up costs one poll interval; nothing is lost with it).
void notify(Transaction& tx);
// Sends the wake-up now, on a connection with no transaction open. Errors are dropped (the
// dispatchers poll as well).
void wake(pqxx::connection_base& conn) noexcept;

}  // namespace cjhub::store::lanes
