#include "cjhub/store/audit_repo.hpp"

#include "cjhub/common/utf8.hpp"

#include <pqxx/pqxx>

#include "cjhub/common/crypto.hpp"
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

std::size_t seal_audit(pqxx::connection& conn, std::size_t max_rows) {
  return translate_errors([&]() -> std::size_t {
    pqxx::work tx(conn, "audit_seal");
    if (!tx.exec1(sql::kAuditSealLock)[0].as<bool>()) return 0;
    long long seq = 0;
    std::string prev = kGenesis;
    if (const auto head = tx.exec(sql::kAuditHead); !head.empty()) {
      seq = head[0][0].as<long long>();
      prev = head[0][1].as<std::string>();
    } else if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) {
      seq = anchor[0][0].as<long long>();
      prev = anchor[0][1].as<std::string>();
    }
    const auto rows = tx.exec_params(sql::kAuditUnsealed, static_cast<long long>(max_rows));
    if (rows.empty()) return 0;
    std::vector<long long> ids, seqs;
    std::vector<std::string> prevs, hashes;
    for (const auto& row : rows) {
      auto rec = read_record(row);
      rec.chain_seq = ++seq;
      auto h = audit_hash(prev, rec);
      ids.push_back(rec.id);
      seqs.push_back(rec.chain_seq);
      prevs.push_back(prev);
      hashes.push_back(h);
      prev = std::move(h);
    }
    tx.exec0(sql::kNestedLoopsOnly);
    tx.exec_params0(sql::kAuditSeal, values::int_array(ids), values::int_array(seqs), values::text_array(prevs),
                    values::text_array(hashes));
    tx.commit();
    return rows.size();
  });
}

AuditVerification verify_audit(pqxx::connection& conn, std::chrono::seconds unsealed_grace) {
  return translate_errors([&] {
    AuditVerification v;
    pqxx::read_transaction tx(conn);
    long long expected = 1;
    std::string prev = kGenesis;
    if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) {
      expected = anchor[0][0].as<long long>() + 1;
      prev = anchor[0][1].as<std::string>();
    }
    auto problem = [&](std::string what) {
      if (v.problems.size() < 100) v.problems.push_back(std::move(what));
    };
    long long after = 0;
    for (;;) {
      const auto page = tx.exec_params(sql::kAuditChainPage, after, 5000LL);
      if (page.empty()) break;
      for (const auto& row : page) {
        auto rec = read_record(row);
        rec.chain_seq = row[9].as<long long>();
        const std::string stored_prev = row[10].is_null() ? "" : row[10].as<std::string>();
        const std::string stored_hash = row[11].is_null() ? "" : row[11].as<std::string>();
        if (v.records == 0) v.first_seq = rec.chain_seq;
        ++v.records;
        if (rec.chain_seq != expected) {
          problem("records at chain positions " + std::to_string(expected) + " to " +
                  std::to_string(rec.chain_seq - 1) + " are missing (deleted) before record " +
                  std::to_string(rec.id));
        } else if (stored_prev != prev) {
          problem("record " + std::to_string(rec.id) + " (chain position " + std::to_string(rec.chain_seq) +
                  ") does not link to the record before it");
        }
        if (audit_hash(stored_prev, rec) != stored_hash) {
          problem("record " + std::to_string(rec.id) + " (chain position " + std::to_string(rec.chain_seq) +
                  ") was altered: its hash does not match its content");
        }
        prev = stored_hash;
        expected = rec.chain_seq + 1;
        after = rec.chain_seq;
        v.last_seq = rec.chain_seq;
      }
    }
    v.head_hash = prev;
    v.unsealed_stale =
        tx.exec_params1(sql::kAuditUnsealedOlderThan, static_cast<long long>(unsealed_grace.count()))[0].as<long long>();
    return v;
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
    const long long first_kept = tx.exec_params1(sql::kAuditFirstKept, cutoff)[0].as<long long>();
    const long long last_removed = first_kept - 1;
    long long anchored = 0;
    if (const auto anchor = tx.exec(sql::kAuditAnchor); !anchor.empty()) anchored = anchor[0][0].as<long long>();
    if (last_removed <= anchored) return 0;
    const auto h = tx.exec_params(sql::kAuditHashAt, last_removed);
    if (h.empty()) return 0;
    tx.exec_params0(sql::kAuditInsertAnchor, last_removed, h[0][0].as<std::string>());
    const auto n = tx.exec_params(sql::kAuditDeleteUpTo, last_removed, anchored).affected_rows();
    insert_audit(tx, {{"hub", "", "audit", "pruned", "chain positions " + std::to_string(anchored + 1) + " to " +
                                                          std::to_string(last_removed),
                       "", "retention: records received before " + cutoff}});
    tx.commit();
    return n;
  });
}

}  // namespace cjhub::store
