// What the store's handles are: libpqxx's connection and transaction under the store's own names.
// Included by the store's sources and by tests that set up or inspect the database directly; no
// other module includes it.
#pragma once

#include <pqxx/connection>
#include <pqxx/transaction>
#include <set>
#include <string>

#include "cjhub/store/connection.hpp"

namespace cjhub::store {

class Connection final : public pqxx::connection {
 public:
  using pqxx::connection::connection;
};

class Transaction final : public pqxx::work {
 public:
  // pqxx::work's name is a virtual base: the most derived class names it.
  explicit Transaction(pqxx::connection_base& c) : pqxx::internal::namedclass("transaction"), pqxx::work(c) {}
  Transaction(pqxx::connection_base& c, const std::string& name)
      : pqxx::internal::namedclass("transaction", name), pqxx::work(c, name) {}

  // Every hub's dispatchers are to be woken once this transaction has committed (lanes::notify).
  void wake_dispatchers_on_commit() { wake_ = true; }
  // This transaction queued rows behind entries of the endpoint's log that a round may be recording
  // at the same time; once committed, their lanes are looked at again (lanes::settle).
  void settle_lanes_on_commit(long long endpoint_id) { settle_.insert(endpoint_id); }
  // Commits; then, if asked, settles lanes and wakes the dispatchers (never an error once committed).
  void commit();

 private:
  bool wake_ = false;
  std::set<long long> settle_;
};

// Commits with no statement timeout on the COMMIT itself: a synchronous-replication wait is never
// cut short into a success that did not reach the standby.
void commit_durably(Transaction& tx);

// Commits without waiting for the WAL to reach the disk or a synchronous standby. Only for
// transactions whose loss in a crash of the database server means work done again, never work
// lost or done out of order: a claim (the rows are due again, and a case's next row waits for
// this one's outcome, which is committed durably). Not a log round: the case's next entry is sent
// once the round commits, and losing the round would send the earlier entry again after it.
void commit_without_waiting(Transaction& tx);

}  // namespace cjhub::store
