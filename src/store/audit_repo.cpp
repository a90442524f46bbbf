#include "cjhub/store/audit_repo.hpp"

#include "cjhub/common/utf8.hpp"

#include <pqxx/pqxx>

#include "cjhub/common/crypto.hpp"

#include <limits>
#include <map>
#include "cjhub/store/database.hpp"
#include "store/sql.hpp"
#include "store/values.hpp"

namespace cjhub::store {

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

void insert_audit(pqxx::work& tx, const std::vector<AuditEvent>& events) {
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

void record_audit(pqxx::connection& conn, const std::vector<AuditEvent>& events) {
  if (events.empty()) return;
  translate_errors([&] {
    pqxx::work tx(conn, "audit");
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

std::size_t seal_audit(pqxx::connection& conn, std::size_t max_rows) {
  return translate_errors([&]() -> std::size_t {
    pqxx::work tx(conn, "audit_seal");
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
  }
};

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
  long long with_xid = 0;  // those written since blocks (the others came before migration 0012)
  for (const auto& row : tx.exec_params(sql::kAuditRecordsByIds, "{" + ids_text + "}")) {
    auto rec = read_record(row);
    if (row[9].as<bool>()) ++with_xid;
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
  if (tx.exec_params1(sql::kAuditCountInRange, xid_from, xid_to)[0].as<long long>() > with_xid) {
    for (const auto& row : tx.exec_params(sql::kAuditAddedAfterSealing, xid_from, xid_to, "{" + ids_text + "}")) {
      w.problem("record " + row[0].as<std::string>() + " is not in " + name +
                ", which sealed its transaction: it was added afterwards");
    }
  }
  w.prev = b[6].as<std::string>();
  w.expected = first_pos + static_cast<long long>(ids.size());
}

}  // namespace

AuditVerification verify_audit(pqxx::connection& conn, std::chrono::seconds unsealed_grace) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    ChainWalk w;
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

void export_audit(pqxx::connection& conn, const std::optional<std::string>& since,
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

std::size_t prune_audit(pqxx::connection& conn, const std::string& cutoff) {
  return translate_errors([&]() -> std::size_t {
    pqxx::work tx(conn, "audit_prune");
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
