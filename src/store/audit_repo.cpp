#include "cjhub/store/audit_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include "cjhub/common/utf8.hpp"

#include <pqxx/pqxx>

#include "cjhub/common/crypto.hpp"

#include <limits>
#include <map>
#include "cjhub/store/database.hpp"
#include "store/prepared.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// Records written by the transaction they describe ($1..$7 arrays: actor, ori, action, outcome,
// object, source, detail).
constexpr const char* kInsertAuditName = "insert_audit";
constexpr const char* kInsertAudit =
    "INSERT INTO audit_log (actor, ori, action, outcome, object, source, detail) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])";
// One sealer at a time, across every hub on the database.
constexpr const char* kAuditSealLock = "SELECT pg_try_advisory_xact_lock(hashtext('cjhub-audit-seal'))";
// Every transaction below this id has finished: none of them can still add a record.
constexpr const char* kAuditHorizon = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text";
// The chain before blocks (records sealed one by one before migration 0012): its head and anchor.
constexpr const char* kAuditHead =
    "SELECT chain_seq, encode(hash, 'hex') FROM audit_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1";
constexpr const char* kAuditAnchor =
    "SELECT chain_seq, encode(hash, 'hex') FROM audit_anchor ORDER BY chain_seq DESC LIMIT 1";
// The last block (number, next position, transaction bound, hash), and the blocks' anchor.
constexpr const char* kAuditLastBlock =
    "SELECT block_seq, first_pos + cardinality(ids), xid_to::text, encode(hash, 'hex') FROM audit_blocks "
    "ORDER BY block_seq DESC LIMIT 1";
constexpr const char* kAuditBlockAnchor =
    "SELECT block_seq, next_pos, xid_to::text, encode(hash, 'hex') FROM audit_block_anchor "
    "ORDER BY block_seq DESC LIMIT 1";
// The fields a record's hash covers, in a fixed order (time in microseconds since the epoch).
#define CJHUB_AUDIT_FIELDS \
  "id, (extract(epoch FROM at) * 1000000)::bigint, actor, ori, action, outcome, object, source, detail"
// Records of the transactions in [$1, $2), in chain order, at most $3. The order is the column's
// (a number), not the text output's: "1000" sorts before "999", and a block cut there would leave
// the records of the lower transactions out of every block.
constexpr const char* kAuditToSeal =
    "SELECT " CJHUB_AUDIT_FIELDS ", xid::text AS xid_text FROM audit_log WHERE xid >= $1::xid8 AND xid < $2::xid8 "
    "ORDER BY audit_log.xid, audit_log.id LIMIT $3";
// Records written before migration 0012 and never sealed: the first block's.
constexpr const char* kAuditLegacyUnsealed =
    "SELECT " CJHUB_AUDIT_FIELDS ", '' FROM audit_log WHERE xid IS NULL AND chain_seq IS NULL ORDER BY id";
// $1 block, $2 first position, $3 ids, $4 record hashes (hex), $5 transaction bound, $6 previous
// block's hash (hex), $7 this block's hash (hex).
constexpr const char* kAuditInsertBlock =
    "INSERT INTO audit_blocks (block_seq, first_pos, ids, hashes, xid_to, prev_hash, hash) "
    "SELECT $1, $2, $3::bigint[], array(SELECT decode(h, 'hex') FROM unnest($4::text[]) WITH ORDINALITY u(h, o) "
    "ORDER BY o), $5::xid8, decode($6, 'hex'), decode($7, 'hex')";
// The chain before blocks in order, a page at a time (after position $1).
constexpr const char* kAuditChainPage =
    "SELECT " CJHUB_AUDIT_FIELDS ", chain_seq, encode(prev_hash, 'hex'), encode(hash, 'hex') "
    "FROM audit_log WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2";
// Blocks in order after block $1, $2 at a time: number, first position, ids, record hashes (hex),
// transaction bound, previous hash, hash.
constexpr const char* kAuditBlockPage =
    "SELECT block_seq, first_pos, array_to_string(ids, ','), "
    "(SELECT string_agg(encode(h, 'hex'), ',' ORDER BY o) FROM unnest(hashes) WITH ORDINALITY u(h, o)), "
    "xid_to::text, encode(prev_hash, 'hex'), encode(hash, 'hex') "
    "FROM audit_blocks WHERE block_seq > $1 ORDER BY block_seq LIMIT $2";
// One block's end: number, next position, transaction bound, hash.
constexpr const char* kAuditBlockEnd =
    "SELECT block_seq, first_pos + cardinality(ids), xid_to::text, encode(hash, 'hex') FROM audit_blocks "
    "WHERE block_seq = $1";
// The first of the most recent blocks (at most $2 of them) that together hold at most $1 records;
// NULL when the last block alone holds more.
constexpr const char* kAuditRecentFrom =
    "SELECT min(block_seq) FROM (SELECT block_seq, sum(cardinality(ids)) OVER (ORDER BY block_seq DESC) AS n "
    "FROM audit_blocks ORDER BY block_seq DESC LIMIT $2) t WHERE n <= $1";
// The records a block lists ($1), each with its transaction id and whether that lies in the block's
// range [$2, $3) (NULL: written before migration 0012, no transaction id).
constexpr const char* kAuditRecordsByIds =
    "SELECT " CJHUB_AUDIT_FIELDS ", xid::text AS xid_text, xid >= $2::xid8 AND xid < $3::xid8 "
    "FROM audit_log WHERE id = ANY ($1::bigint[])";
// How many records the transactions in [$1, $2) have (a block sealing that range lists them all).
constexpr const char* kAuditCountInRange =
    "SELECT count(*) FROM audit_log WHERE xid >= $1::xid8 AND xid < $2::xid8";
// Records of transactions in [$1, $2) that a block sealing that range does not list: added later.
constexpr const char* kAuditAddedAfterSealing =
    "SELECT id FROM audit_log WHERE xid >= $1::xid8 AND xid < $2::xid8 AND NOT (id = ANY ($3::bigint[])) "
    "ORDER BY id LIMIT 10";
// Records in no block yet (their transactions at or after $2, or from before migration 0012 when
// there is no block, $3), received more than $1 seconds ago.
constexpr const char* kAuditUnsealedOlderThan =
    "SELECT count(*) FROM audit_log WHERE at < now() - make_interval(secs => $1) "
    "AND (xid >= $2::xid8 OR ($3 AND xid IS NULL AND chain_seq IS NULL))";
// Records received between $1 and $2 (NULL: open), after id $3, in id order, each with its chain
// position and hash (from its block; sealed before blocks: its own; NULL while unsealed).
constexpr const char* kAuditExportPage =
    "SELECT a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.actor, a.ori, a.action, "
    "a.outcome, a.object, a.source, a.detail, coalesce(a.chain_seq, b.pos), coalesce(encode(a.hash, 'hex'), b.hash) "
    "FROM audit_log a LEFT JOIN LATERAL ("
    "  SELECT k.first_pos + k.i - 1 AS pos, encode(k.hashes[k.i], 'hex') AS hash FROM ("
    "    SELECT first_pos, hashes, array_position(ids, a.id) AS i FROM audit_blocks "
    "    WHERE a.chain_seq IS NULL AND (a.xid IS NULL OR xid_to > a.xid) ORDER BY xid_to LIMIT 1) k "
    "  WHERE k.i IS NOT NULL) b ON true "
    "WHERE ($1::timestamptz IS NULL OR a.at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR a.at < $2::timestamptz) "
    "AND a.id > $3 ORDER BY a.id LIMIT $4";
// Retention before blocks removes the oldest records of that chain, a prefix that ends before the
// first record kept ($1 the cut-off time) and never includes its head.
constexpr const char* kAuditFirstKept =
    "SELECT coalesce((SELECT chain_seq FROM audit_log WHERE chain_seq IS NOT NULL AND at >= $1::timestamptz "
    "ORDER BY chain_seq LIMIT 1), (SELECT max(chain_seq) FROM audit_log), 0)";
constexpr const char* kAuditHashAt = "SELECT encode(hash, 'hex') FROM audit_log WHERE chain_seq = $1";
constexpr const char* kAuditInsertAnchor =
    "INSERT INTO audit_anchor (chain_seq, hash) VALUES ($1, decode($2, 'hex')) ON CONFLICT (chain_seq) DO NOTHING";
constexpr const char* kAuditDeleteUpTo =
    "DELETE FROM audit_log WHERE chain_seq <= $1 AND chain_seq > $2";
// Retention of blocks: the oldest blocks (never the last) whose records were all received before
// $1, in order; a block with a newer record ends the prefix.
constexpr const char* kAuditOldBlocks =
    "SELECT b.block_seq, b.first_pos + cardinality(b.ids), b.xid_to::text, encode(b.hash, 'hex'), "
    "coalesce((SELECT max(a.at) < $1::timestamptz FROM audit_log a WHERE a.id = ANY (b.ids)), true) "
    "FROM audit_blocks b WHERE b.block_seq < (SELECT max(block_seq) FROM audit_blocks) ORDER BY b.block_seq LIMIT $2";
constexpr const char* kAuditInsertBlockAnchor =
    "INSERT INTO audit_block_anchor (block_seq, next_pos, xid_to, hash) VALUES ($1, $2, $3::xid8, decode($4, 'hex'))";
constexpr const char* kAuditDeleteBlockRecords =
    "DELETE FROM audit_log WHERE id IN (SELECT unnest(ids) FROM audit_blocks WHERE block_seq <= $1)";
constexpr const char* kAuditDeleteBlocks = "DELETE FROM audit_blocks WHERE block_seq <= $1";
#undef CJHUB_AUDIT_FIELDS

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_audit_statements(Connection& conn) {
  conn.prepare(sql::kInsertAuditName, sql::kInsertAudit);
}

namespace {

constexpr const char* kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

std::optional<std::string> opt_field(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<std::string>(f.as<std::string>());
}

AuditRecord read_record(const pqxx::row& r) {
  AuditRecord a;
  a.id = r[0].as<long long>();
  a.at_us = r[1].as<long long>();
  a.actor = opt_field(r[2]);
  a.ori = opt_field(r[3]);
  a.action = opt_field(r[4]);
  a.outcome = opt_field(r[5]);
  a.object = opt_field(r[6]);
  a.source = opt_field(r[7]);
  a.detail = opt_field(r[8]);
  return a;
}

std::string bytes_of_hex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

void insert_audit(Transaction& tx, const std::vector<AuditEvent>& events) {
  if (events.empty()) return;
  std::vector<std::string> actor, action, outcome;
  std::vector<std::optional<std::string>> ori, object, source, detail;
  // Every field is capped and made valid UTF-8: a peer chooses much of what is recorded (a path,
  // a certificate subject), and one record must neither bloat a chain kept for 400 days nor make
  // the batch it travels in fail.
  for (const auto& e : events) {
    actor.push_back(utf8_capped(e.actor, kAuditFieldCaps.actor));
    ori.push_back(values::opt(utf8_capped(e.ori, kAuditFieldCaps.ori)));
    action.push_back(utf8_capped(e.action, kAuditFieldCaps.action));
    outcome.push_back(utf8_capped(e.outcome, kAuditFieldCaps.outcome));
    object.push_back(values::opt(utf8_capped(e.object, kAuditFieldCaps.object)));
    source.push_back(values::opt(utf8_capped(e.source, kAuditFieldCaps.source)));
    detail.push_back(values::opt(utf8_capped(e.detail, kAuditFieldCaps.detail)));
  }
  tx.exec_prepared0(sql::kInsertAuditName, values::text_array(actor), values::opt_text_array(ori),
                    values::text_array(action), values::text_array(outcome), values::opt_text_array(object),
                    values::opt_text_array(source), values::opt_text_array(detail));
}

void record_audit(Connection& conn, const std::vector<AuditEvent>& events) {
  if (events.empty()) return;
  translate_errors([&] {
    Transaction tx(conn, "audit");
    insert_audit(tx, events);
    tx.commit();
  });
}

std::string audit_hash(const std::string& prev_hash_hex, const AuditRecord& r) {
  // Length-prefixed fields (NULL as -1), so no two records share a canonical form.
  std::string canon = bytes_of_hex(prev_hash_hex);
  auto put = [&](const std::optional<std::string>& v) {
    if (!v) {
      canon += "-1:";
      return;
    }
    canon += std::to_string(v->size());
    canon += ':';
    canon += *v;
  };
  put(std::to_string(r.id));
  put(std::to_string(r.at_us));
  put(r.actor);
  put(r.ori);
  put(r.action);
  put(r.outcome);
  put(r.object);
  put(r.source);
  put(r.detail);
  put(std::to_string(r.chain_seq));
  return to_hex(sha256(canon));
}

std::string audit_block_hash(const std::string& prev_hash_hex, long long block_seq, long long first_pos,
                             const std::vector<std::string>& record_hashes_hex) {
  std::string canon = bytes_of_hex(prev_hash_hex);
  canon += std::to_string(block_seq) + ':' + std::to_string(first_pos) + ':' + std::to_string(record_hashes_hex.size()) + ':';
  for (const auto& h : record_hashes_hex) canon += bytes_of_hex(h);
  return to_hex(sha256(canon));
}

namespace {

// Where the next block starts: its number, first position, transaction bound and the hash it
// links to. `first_ever`: no block was ever sealed (it also takes the records written before
// blocks and never sealed).
struct ChainEnd {
  long long block_seq = 0;
  long long next_pos = 1;
  std::string xid_to = "0";
  std::string hash = kGenesis;
  bool first_ever = true;
};

template <class Tx>
ChainEnd chain_end(Tx& tx) {
  ChainEnd e;
  if (const auto b = tx.exec(sql::kAuditLastBlock); !b.empty()) {
    e = {b[0][0].template as<long long>(), b[0][1].template as<long long>(), b[0][2].template as<std::string>(),
         b[0][3].template as<std::string>(), false};
  } else if (const auto a = tx.exec(sql::kAuditBlockAnchor); !a.empty()) {
    e = {a[0][0].template as<long long>(), a[0][1].template as<long long>(), a[0][2].template as<std::string>(),
         a[0][3].template as<std::string>(), false};
  } else if (const auto head = tx.exec(sql::kAuditHead); !head.empty()) {
    e.next_pos = head[0][0].template as<long long>() + 1;
    e.hash = head[0][1].template as<std::string>();
  } else if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) {
    e.next_pos = anchor[0][0].template as<long long>() + 1;
    e.hash = anchor[0][1].template as<std::string>();
  }
  return e;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t from = 0;
  for (;;) {
    const auto comma = s.find(',', from);
    out.push_back(s.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
    if (comma == std::string::npos) return out;
    from = comma + 1;
  }
}

}  // namespace

std::size_t seal_audit(Connection& conn, std::size_t max_rows) {
  return translate_errors([&]() -> std::size_t {
    Transaction tx(conn, "audit_seal");
    if (!tx.exec1(sql::kAuditSealLock)[0].as<bool>()) return 0;
    // Taken before anything else: transactions below it are over, whatever they wrote is visible.
    const auto horizon = tx.exec1(sql::kAuditHorizon)[0].as<std::string>();
    const auto end = chain_end(tx);
    std::vector<AuditRecord> recs;
    if (end.first_ever) {
      for (const auto& row : tx.exec(sql::kAuditLegacyUnsealed)) recs.push_back(read_record(row));
    }
    // One block holds whole transactions: when there are more than max_rows records, it ends
    // before the transaction of the first record left over (or, when one transaction alone has
    // more, after that transaction).
    std::string xid_to = horizon;
    auto rows = tx.exec_params(sql::kAuditToSeal, end.xid_to, horizon, static_cast<long long>(max_rows + 1));
    std::vector<std::pair<AuditRecord, std::string>> fresh;
    for (const auto& row : rows) fresh.emplace_back(read_record(row), row[9].as<std::string>());
    if (fresh.size() > max_rows) {
      const auto cut = fresh[max_rows].second;
      if (cut == fresh.front().second) {
        const auto next = std::to_string(std::stoull(cut) + 1);
        fresh.clear();
        for (const auto& row : tx.exec_params(sql::kAuditToSeal, cut, next, std::numeric_limits<long long>::max())) {
          fresh.emplace_back(read_record(row), row[9].as<std::string>());
        }
        xid_to = next;
      } else {
        while (!fresh.empty() && fresh.back().second == cut) fresh.pop_back();
        xid_to = cut;
      }
    }
    for (auto& [rec, xid] : fresh) recs.push_back(std::move(rec));
    if (recs.empty()) return 0;
    const long long block_seq = end.block_seq + 1;
    std::vector<long long> ids;
    std::vector<std::string> hashes;
    long long pos = end.next_pos;
    for (auto& rec : recs) {
      rec.chain_seq = pos++;
      ids.push_back(rec.id);
      hashes.push_back(audit_hash(kGenesis, rec));
    }
    const auto hash = audit_block_hash(end.hash, block_seq, end.next_pos, hashes);
    tx.exec_params0(sql::kAuditInsertBlock, block_seq, end.next_pos, values::int_array(ids),
                    values::text_array(hashes), xid_to, end.hash, hash);
    tx.commit();
    return recs.size();
  });
}

namespace {

// Where a walk of the chain stands: the verification so far, the next position and the hash the
// next link must carry.
struct ChainWalk {
  AuditVerification v;
  long long expected = 1;
  std::string prev = kGenesis;
  void problem(std::string what) {
    if (v.problems.size() < 100) v.problems.push_back(std::move(what));
  }
  void counted(long long pos) {
    if (v.records == 0) v.first_seq = pos;
    ++v.records;
    v.last_seq = pos;
    if (progress) progress(v.records, total);
  }
  AuditProgress progress;  // cjhub audit verify's progress line
  long long total = 0;
};

// Where the chain before blocks ends (the position after its head, the head's hash): the first
// block links there.
std::pair<long long, std::string> chain_end_before_blocks(pqxx::read_transaction& tx) {
  if (const auto head = tx.exec(sql::kAuditHead); !head.empty()) {
    return {head[0][0].as<long long>() + 1, head[0][1].as<std::string>()};
  }
  if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) {
    return {anchor[0][0].as<long long>() + 1, anchor[0][1].as<std::string>()};
  }
  return {1, kGenesis};
}

// The chain before blocks: one link per record.
void walk_record_chain(pqxx::read_transaction& tx, ChainWalk& w) {
  if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) {
    w.expected = anchor[0][0].as<long long>() + 1;
    w.prev = anchor[0][1].as<std::string>();
  }
  long long after = 0;
  for (;;) {
    const auto page = tx.exec_params(sql::kAuditChainPage, after, 5000LL);
    if (page.empty()) break;
    for (const auto& row : page) {
      auto rec = read_record(row);
      rec.chain_seq = row[9].as<long long>();
      const std::string stored_prev = row[10].is_null() ? "" : row[10].as<std::string>();
      const std::string stored_hash = row[11].is_null() ? "" : row[11].as<std::string>();
      const std::string name = "record " + std::to_string(rec.id) + " (chain position " + std::to_string(rec.chain_seq) + ")";
      w.counted(rec.chain_seq);
      if (rec.chain_seq != w.expected) {
        w.problem("records at chain positions " + std::to_string(w.expected) + " to " +
                  std::to_string(rec.chain_seq - 1) + " are missing (deleted) before record " + std::to_string(rec.id));
      } else if (stored_prev != w.prev) {
        w.problem(name + " does not link to the record before it");
      }
      if (audit_hash(stored_prev, rec) != stored_hash) {
        w.problem(name + " was altered: its hash does not match its content");
      }
      w.prev = stored_hash;
      w.expected = rec.chain_seq + 1;
      after = rec.chain_seq;
    }
  }
}

// One block: its link, its own hash, each record it lists (present, unaltered), and no record
// of its transactions that it does not list. `xid_from` is where its range starts.
void check_block(pqxx::read_transaction& tx, ChainWalk& w, const pqxx::row& b, long long expected_block,
                 const std::string& xid_from, long long& missing_from, long long& missing_to) {
  const auto seq = b[0].as<long long>();
  const auto first_pos = b[1].as<long long>();
  const auto ids_text = b[2].as<std::string>();
  const auto ids = split(ids_text);
  const auto hashes = split(values::text(b[3]));
  const auto xid_to = b[4].as<std::string>();
  const auto stored_prev = b[5].as<std::string>();
  const std::string name = "block " + std::to_string(seq);
  if (seq != expected_block) {
    w.problem("blocks " + std::to_string(expected_block) + " to " + std::to_string(seq - 1) +
              " are missing (deleted) before " + name);
  } else if (stored_prev != w.prev) {
    w.problem(name + " does not link to the block before it");
  } else if (first_pos != w.expected) {
    w.problem(name + " starts at chain position " + std::to_string(first_pos) + " instead of " +
              std::to_string(w.expected));
  }
  if (hashes.size() != ids.size() || audit_block_hash(stored_prev, seq, first_pos, hashes) != b[6].as<std::string>()) {
    w.problem(name + " was altered: its hash does not match the records it lists");
  }
  std::map<long long, AuditRecord> found;
  // Those of the block's transactions (the others came before migration 0012, without an id). A
  // record of a transaction outside the range is not this block's to list: it was moved here, or
  // sealed out of order.
  long long in_range = 0;
  for (const auto& row : tx.exec_params(sql::kAuditRecordsByIds, "{" + ids_text + "}", xid_from, xid_to)) {
    auto rec = read_record(row);
    if (!row[10].is_null()) {
      if (row[10].as<bool>()) {
        ++in_range;
      } else {
        w.problem("record " + std::to_string(rec.id) + " is in " + name + ", which sealed the transactions from " +
                  xid_from + " up to " + xid_to + " (not included), but its transaction is " + row[9].as<std::string>());
      }
    }
    found.emplace(rec.id, std::move(rec));
  }
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const long long id = std::stoll(ids[k]);
    const long long pos = first_pos + static_cast<long long>(k);
    const auto it = found.find(id);
    if (it == found.end()) {
      if (missing_from == 0) missing_from = pos;
      missing_to = pos;
      continue;
    }
    if (missing_from != 0) {
      w.problem("records at chain positions " + std::to_string(missing_from) + " to " + std::to_string(missing_to) +
                " are missing (deleted) before record " + std::to_string(id));
      missing_from = 0;
    }
    auto rec = it->second;
    rec.chain_seq = pos;
    w.counted(pos);
    if (k >= hashes.size() || audit_hash(kGenesis, rec) != hashes[k]) {
      w.problem("record " + std::to_string(id) + " (chain position " + std::to_string(pos) +
                ") was altered: its hash does not match its content");
    }
  }
  if (tx.exec_params1(sql::kAuditCountInRange, xid_from, xid_to)[0].as<long long>() > in_range) {
    for (const auto& row : tx.exec_params(sql::kAuditAddedAfterSealing, xid_from, xid_to, "{" + ids_text + "}")) {
      w.problem("record " + row[0].as<std::string>() + " is not in " + name +
                ", which sealed its transaction: it was added afterwards");
    }
  }
  w.prev = b[6].as<std::string>();
  w.expected = first_pos + static_cast<long long>(ids.size());
}

}  // namespace

AuditVerification verify_audit(Connection& conn, std::chrono::seconds unsealed_grace, const AuditProgress& progress) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    ChainWalk w;
    if (progress) {
      // About how many records the walk will check: the chain's last position less where it
      // starts after retention (for a progress line only).
      long long last = 0, first = 0;
      if (const auto b = tx.exec(sql::kAuditLastBlock); !b.empty()) {
        last = b[0][1].as<long long>() - 1;
      } else if (const auto h = tx.exec(sql::kAuditHead); !h.empty()) {
        last = h[0][0].as<long long>();
      }
      if (const auto a = tx.exec(sql::kAuditAnchor); !a.empty()) first = a[0][0].as<long long>();
      if (const auto a = tx.exec(sql::kAuditBlockAnchor); !a.empty() && tx.exec(sql::kAuditHead).empty()) {
        first = std::max(first, a[0][1].as<long long>() - 1);
      }
      w.progress = progress;
      w.total = std::max(0LL, last - first);
    }
    walk_record_chain(tx, w);
    // Blocks: the first links to the head of the chain above, or to the blocks' anchor.
    long long block = 1;
    std::string xid_from = "0";
    bool no_block = true;
    if (const auto a = tx.exec(sql::kAuditBlockAnchor); !a.empty()) {
      block = a[0][0].as<long long>() + 1;
      w.expected = a[0][1].as<long long>();
      xid_from = a[0][2].as<std::string>();
      w.prev = a[0][3].as<std::string>();
      no_block = false;
    }
    long long missing_from = 0, missing_to = 0;  // a run of listed positions whose records are gone
    for (long long after = block - 1;;) {
      const auto page = tx.exec_params(sql::kAuditBlockPage, after, 100LL);
      if (page.empty()) break;
      for (const auto& b : page) {
        check_block(tx, w, b, block, xid_from, missing_from, missing_to);
        xid_from = b[4].as<std::string>();
        after = b[0].as<long long>();
        block = after + 1;
        no_block = false;
      }
    }
    if (missing_from != 0) {
      w.problem("records at chain positions " + std::to_string(missing_from) + " to " + std::to_string(missing_to) +
                " are missing (deleted) at the end of the chain");
    }
    w.v.head_hash = w.prev;
    w.v.unsealed_stale = tx.exec_params1(sql::kAuditUnsealedOlderThan, static_cast<long long>(unsealed_grace.count()),
                                         xid_from, no_block)[0]
                             .as<long long>();
    return w.v;
  });
}

AuditVerification verify_audit_recent(Connection& conn, long long max_records, long long max_blocks) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    ChainWalk w;
    const auto last = tx.exec(sql::kAuditLastBlock);
    if (last.empty()) return w.v;  // nothing sealed in blocks yet
    const long long last_block = last[0][0].as<long long>();
    const auto from_row = tx.exec_params1(sql::kAuditRecentFrom, max_records, std::max(1LL, max_blocks));
    long long from = from_row[0].is_null() ? last_block : from_row[0].as<long long>();
    // Where the window starts: the end of the block before it, the blocks' anchor (the blocks
    // before were removed by retention), or the chain before blocks.
    long long anchor_block = 0;
    std::string xid_from = "0";
    if (const auto a = tx.exec(sql::kAuditBlockAnchor); !a.empty()) {
      anchor_block = a[0][0].as<long long>();
      from = std::max(from, anchor_block + 1);
      if (from - 1 == anchor_block) {
        w.expected = a[0][1].as<long long>();
        xid_from = a[0][2].as<std::string>();
        w.prev = a[0][3].as<std::string>();
      }
    }
    if (from - 1 != anchor_block || anchor_block == 0) {
      if (from == 1) {
        const auto e = chain_end_before_blocks(tx);
        w.expected = e.first;
        w.prev = e.second;
      } else if (const auto b = tx.exec_params(sql::kAuditBlockEnd, from - 1); !b.empty()) {
        w.expected = b[0][1].as<long long>();
        xid_from = b[0][2].as<std::string>();
        w.prev = b[0][3].as<std::string>();
      } else {
        w.problem("block " + std::to_string(from - 1) + " is missing (deleted) before block " + std::to_string(from));
        w.prev.clear();
      }
    }
    long long block = from;
    long long missing_from = 0, missing_to = 0;
    for (long long after = from - 1; after < last_block;) {
      const auto page = tx.exec_params(sql::kAuditBlockPage, after, 100LL);
      if (page.empty()) break;
      for (const auto& b : page) {
        check_block(tx, w, b, block, xid_from, missing_from, missing_to);
        xid_from = b[4].as<std::string>();
        after = b[0].as<long long>();
        block = after + 1;
        if (after >= last_block) break;
      }
    }
    if (missing_from != 0) {
      w.problem("records at chain positions " + std::to_string(missing_from) + " to " + std::to_string(missing_to) +
                " are missing (deleted) at the end of the chain");
    }
    w.v.head_hash = w.prev;
    return w.v;
  });
}

void export_audit(Connection& conn, const std::optional<std::string>& since,
                  const std::optional<std::string>& until, const std::function<void(const AuditRow&)>& each) {
  translate_errors([&] {
    pqxx::read_transaction tx(conn);
    long long after = 0;
    for (;;) {
      const auto page = tx.exec_params(sql::kAuditExportPage, since, until, after, 5000LL);
      if (page.empty()) break;
      for (const auto& r : page) {
        AuditRow a;
        a.id = r[0].as<long long>();
        a.at = r[1].as<std::string>();
        a.actor = values::text(r[2]);
        a.ori = values::text(r[3]);
        a.action = values::text(r[4]);
        a.outcome = values::text(r[5]);
        a.object = values::text(r[6]);
        a.source = values::text(r[7]);
        a.detail = values::text(r[8]);
        if (!r[9].is_null()) a.chain_seq = r[9].as<long long>();
        a.hash = values::text(r[10]);
        after = a.id;
        each(a);
      }
    }
    return 0;
  });
}

std::size_t prune_audit(Connection& conn, const std::string& cutoff) {
  return translate_errors([&]() -> std::size_t {
    Transaction tx(conn, "audit_prune");
    // Under the sealer's lock, so the chain does not move meanwhile.
    if (!tx.exec1(sql::kAuditSealLock)[0].as<bool>()) return 0;
    std::size_t removed = 0;
    std::string what;
    // The chain before blocks: a prefix of its records, never its head.
    const long long first_kept = tx.exec_params1(sql::kAuditFirstKept, cutoff)[0].as<long long>();
    const long long last_removed = first_kept - 1;
    long long anchored = 0;
    if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) anchored = anchor[0][0].as<long long>();
    if (last_removed > anchored) {
      if (const auto h = tx.exec_params(sql::kAuditHashAt, last_removed); !h.empty()) {
        tx.exec_params0(sql::kAuditInsertAnchor, last_removed, h[0][0].as<std::string>());
        removed += tx.exec_params(sql::kAuditDeleteUpTo, last_removed, anchored).affected_rows();
        what = "chain positions " + std::to_string(anchored + 1) + " to " + std::to_string(last_removed);
      }
    }
    // Blocks: the oldest whose records are all past the cut-off, never the last block.
    long long last_block = 0;
    std::string next_pos, xid_to, hash;
    for (const auto& b : tx.exec_params(sql::kAuditOldBlocks, cutoff, 10000LL)) {
      if (!b[4].as<bool>()) break;
      last_block = b[0].as<long long>();
      next_pos = b[1].as<std::string>();
      xid_to = b[2].as<std::string>();
      hash = b[3].as<std::string>();
    }
    if (last_block > 0) {
      removed += tx.exec_params(sql::kAuditDeleteBlockRecords, last_block).affected_rows();
      tx.exec_params0(sql::kAuditInsertBlockAnchor, last_block, std::stoll(next_pos), xid_to, hash);
      tx.exec_params0(sql::kAuditDeleteBlocks, last_block);
      what += std::string(what.empty() ? "" : ", ") + "blocks up to " + std::to_string(last_block) +
              " (chain positions before " + next_pos + ")";
    }
    if (removed == 0 && last_block == 0) return 0;
    insert_audit(tx, {{"hub", "", "audit", "pruned", what, "", "retention: records received before " + cutoff}});
    tx.commit();
    return removed;
  });
}

}  // namespace cjhub::store
