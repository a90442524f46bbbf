#include "cjhub/store/agencies_repo.hpp"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>

#include "cjhub/store/database.hpp"
#include "store/sql.hpp"

namespace cjhub::store {

namespace {

config::IdentityKind kind_from(const std::string& s) {
  if (s == "subject") return config::IdentityKind::subject;
  if (s == "sha256") return config::IdentityKind::sha256;
  return config::IdentityKind::san_uri;
}

std::vector<AgencyRecord> read_all(pqxx::transaction_base& tx) {
  std::map<std::string, AgencyRecord> by_ori;
  for (const auto& r : tx.exec(sql::kSelectAgencies)) {
    AgencyRecord rec;
    rec.agency.ori = r[0].as<std::string>();
    rec.agency.name = r[1].as<std::string>();
    rec.agency.role = r[2].as<std::string>() == "operator" ? config::Role::operator_ : config::Role::agency;
    rec.active = r[3].as<bool>();
    by_ori.emplace(rec.agency.ori, std::move(rec));
  }
  for (const auto& r : tx.exec(sql::kSelectIdentities)) {
    auto it = by_ori.find(r[2].as<std::string>());
    if (it != by_ori.end()) {
      it->second.agency.identities.push_back({kind_from(r[0].as<std::string>()), r[1].as<std::string>()});
    }
  }
  for (const auto& r : tx.exec(sql::kSelectPublish)) {
    auto it = by_ori.find(r[0].as<std::string>());
    if (it != by_ori.end()) it->second.agency.publish.push_back(r[1].as<std::string>());
  }
  std::vector<AgencyRecord> out;
  for (auto& [ori, rec] : by_ori) out.push_back(std::move(rec));
  return out;
}

bool same_identities(std::vector<config::CertIdentity> a, std::vector<config::CertIdentity> b) {
  auto key = [](const config::CertIdentity& x, const config::CertIdentity& y) {
    return std::pair(static_cast<int>(x.kind), x.value) < std::pair(static_cast<int>(y.kind), y.value);
  };
  std::sort(a.begin(), a.end(), key);
  std::sort(b.begin(), b.end(), key);
  return a == b;
}

}  // namespace

std::vector<AgencyRecord> load_agencies(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    return read_all(tx);
  });
}

ApplyReport apply_agencies(pqxx::connection& conn, const config::AgenciesFile& file) {
  return translate_errors([&] {
    pqxx::work tx(conn, "apply_agencies");
    tx.exec(sql::kAgenciesLock);
    std::map<std::string, AgencyRecord> current;
    for (auto& rec : read_all(tx)) current.emplace(rec.agency.ori, std::move(rec));

    ApplyReport report;
    // Identities move between listed agencies only after the old owner lets go: clear first.
    for (const auto& a : file.agencies) tx.exec_params0(sql::kDeleteIdentities, a.ori);
    for (const auto& [ori, rec] : current) {
      const bool listed = std::any_of(file.agencies.begin(), file.agencies.end(),
                                      [&](const config::Agency& a) { return a.ori == ori; });
      if (!listed) {
        // Identities stay, so a decommissioned agency's certificate is told "disabled".
        if (rec.active) {
          tx.exec_params0(sql::kDisableAgency, ori);
          report.disabled.push_back(ori);
        }
      }
    }
    for (const auto& a : file.agencies) {
      const auto it = current.find(a.ori);
      tx.exec_params0(sql::kUpsertAgency, a.ori, a.name, config::to_string(a.role));
      for (const auto& id : a.identities) {
        tx.exec_params0(sql::kReleaseIdentity, config::to_string(id.kind), id.value);
        tx.exec_params0(sql::kInsertIdentity, config::to_string(id.kind), id.value, a.ori);
      }
      tx.exec_params0(sql::kDeletePublish, a.ori);
      for (const auto& t : a.publish) tx.exec_params0(sql::kInsertPublish, a.ori, t);

      if (it == current.end()) {
        report.added.push_back(a.ori);
      } else {
        const auto& old = it->second;
        auto old_publish = old.agency.publish;
        std::sort(old_publish.begin(), old_publish.end());
        const bool same = old.active && old.agency.name == a.name && old.agency.role == a.role &&
                          old_publish == a.publish &&
                          same_identities(old.agency.identities, a.identities);
        (same ? report.unchanged : report.changed).push_back(a.ori);
      }
    }
    if (report.any_change()) tx.exec0(sql::kNotifyAgencies);
    tx.commit();
    return report;
  });
}

}  // namespace cjhub::store
