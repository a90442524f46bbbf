// The audit trail in the store: records written inside the transactions they describe (and never
// updated), sealed in blocks chained by hash, verified, exported and pruned after the retention
// period.
#pragma once

#include "cjhub/store/connection.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cjhub::store {

// One audited event. Never payload content: ids, ORIs, certificate identities, outcomes.
struct AuditEvent {
  std::string actor;    // certificate identity, hub:<instance> or cli:<user>
  std::string ori;      // the agency acting or addressed ("" when unknown)
  std::string action;   // submission, delivery, admin, authorization, erasure, audit, connection
  std::string outcome;  // accepted, duplicate, refused:<problem>, delivered, ...
  std::string object;   // ids
  std::string source;   // remote address, endpoint or host
  std::string detail;   // a short reason
};

// The most bytes each field keeps (cut on a character boundary, ending in "...").
struct AuditFieldCaps {
  std::size_t actor = 256, ori = 64, action = 64, outcome = 128, object = 512, source = 256, detail = 500;
};
inline constexpr AuditFieldCaps kAuditFieldCaps{};

// Appends the events inside `tx` (one statement), each field capped and valid UTF-8.
void insert_audit(Transaction& tx, const std::vector<AuditEvent>& events);
// The same in a transaction of its own.
void record_audit(Connection& conn, const std::vector<AuditEvent>& events);

// A record as the chain covers it.
struct AuditRecord {
  long long id = 0;
  long long at_us = 0;  // microseconds since the epoch (UTC)
  std::optional<std::string> actor, ori, action, outcome, object, source, detail;
  long long chain_seq = 0;
};
// hash = SHA-256(prev_hash || canonical fields, chain position included); both as lower-case hex.
// A record sealed in a block is hashed with the all-zero prev_hash (the block carries the link).
std::string audit_hash(const std::string& prev_hash_hex, const AuditRecord& r);
// A block's hash: SHA-256(previous block's hash || number || first position || count || record hashes).
std::string audit_block_hash(const std::string& prev_hash_hex, long long block_seq, long long first_pos,
                             const std::vector<std::string>& record_hashes_hex);

// Seals the records of the transactions that have finished since the last block into one new
// block (at most `max_rows` records, cut between transactions; a transaction with more goes into
// one block whole). Returns how many records; 0 when there were none, or when another process is
// sealing at the moment. Records are never updated.
std::size_t seal_audit(Connection& conn, std::size_t max_rows);

struct AuditVerification {
  long long records = 0;        // sealed records checked
  long long first_seq = 0, last_seq = 0;
  std::string head_hash;        // the hash of the last record: keep it outside the database
  long long unsealed_stale = 0; // records still unsealed after the grace period
  std::vector<std::string> problems;  // each names the record (id and chain position)
  bool ok() const { return problems.empty(); }
};
// Walks the whole chain: the records sealed one by one before blocks, then the blocks. Reports
// altered records, missing ones (gaps), records added after their transaction was sealed, altered
// or missing blocks and broken links.
// `progress`, when set, is called with the records checked so far and about how many the chain
// holds (its positions, read once at the start), after every record.
using AuditProgress = std::function<void(long long checked, long long total)>;
AuditVerification verify_audit(Connection& conn, std::chrono::seconds unsealed_grace,
                               const AuditProgress& progress = {});
// The same checks over the most recent blocks only, for a periodic check whose cost is bounded:
// the last blocks that together hold at most `max_records` records (at least the last block,
// at most `max_blocks` blocks), starting from the end of the block before them (its hash is
// trusted) or the anchor left by retention. `unsealed_stale` is not computed.
AuditVerification verify_audit_recent(Connection& conn, long long max_records, long long max_blocks);

struct AuditRow {
  long long id = 0;
  std::string at;  // RFC 3339 UTC
  std::string actor, ori, action, outcome, object, source, detail;
  std::optional<long long> chain_seq;
  std::string hash;
};
// Every record received in [since, until), in order.
void export_audit(Connection& conn, const std::optional<std::string>& since,
                  const std::optional<std::string>& until, const std::function<void(const AuditRow&)>& each);

// Removes sealed records received before `cutoff` (a prefix of the chain, whole blocks, never the
// last block) and remembers where the chain now starts. Returns how many were removed.
std::size_t prune_audit(Connection& conn, const std::string& cutoff);

}  // namespace cjhub::store
