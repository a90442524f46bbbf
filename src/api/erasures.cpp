// The erasure ledger: for every erasure, every required recipient with delivered and
// acknowledged times, deadline and state. Operators see every erasure; the agency that
// requested an erasure (the court) sees it whole; an agency that was sent the notice sees what it
// owes: its own recipient rows, counts and status, never another holder of the case.
//   GET /v1/erasures?status=open|overdue|complete&agency=&since=&until=&limit=&after_at=&after_id=
//       &format=json|csv   (csv: one row per erasure and recipient, for a spreadsheet or an auditor)
//   GET /v1/erasures/{id}
#include <boost/json.hpp>

#include "api/query.hpp"
#include "cjhub/api/handlers.hpp"
#include "cjhub/api/resource_json.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/csv.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/store/erasures_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr long long kCsvMaxErasures = 50000;

// The ledger page as CSV: a row per erasure and recipient (an erasure without recipients: one row).
Response ledger_csv(const std::vector<store::ErasureSummary>& items, const std::vector<store::ErasureRecipient>& recipients) {
  std::string out =
      "erasure_id,case_key,scope,requested_by,received_at,deadline_at,status,recipient_ori,endpoint,state,"
      "delivered_at,acknowledged_at,ack_status,overdue\r\n";
  auto row = [&out](std::initializer_list<std::string> cells) {
    bool first = true;
    for (const auto& c : cells) {
      if (!first) out += ',';
      out += csv_cell(c);
      first = false;
    }
    out += "\r\n";
  };
  for (const auto& s : items) {
    bool any = false;
    for (const auto& r : recipients) {
      if (r.erasure_id != s.id) continue;
      any = true;
      row({s.id, s.case_key, s.scope, s.requested_by, s.received_at, s.deadline_at, s.status, r.recipient_ori,
           r.endpoint, r.state == "queued" ? "pending" : r.state, r.delivered_at, r.acknowledged_at, r.ack_status,
           r.overdue ? "true" : "false"});
    }
    if (!any) row({s.id, s.case_key, s.scope, s.requested_by, s.received_at, s.deadline_at, s.status, "", "", "", "", "", "", ""});
  }
  Response r;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(out);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"erasures.csv\"");
  return r;
}

}  // namespace

void Handlers::erasures(const Request& req, const std::string& path, Respond respond) {
  const auto who = caller(req, path, respond);
  if (!who) return;
  if (req.method != "GET") return respond(method_not_allowed("GET", path));
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", path));
  store::ErasureFilter f;
  if (!who->is_operator()) f.viewer = who->ori;

  if (path == "/v1/erasures") {
    const auto q = query_params(req.target);
    f.status = get(q, "status");
    if (f.status && *f.status != "open" && *f.status != "overdue" && *f.status != "complete" &&
        *f.status != "superseded") {
      return respond(problem(Problem::bad_request, "status must be open, overdue, complete or superseded", path));
    }
    if (get(q, "overdue") == std::optional<std::string>("true")) f.status = "overdue";
    f.agency = get(q, "agency");
    f.since = get(q, "since");
    f.until = get(q, "until");
    f.after_at = get(q, "after_at");
    f.after_id = get(q, "after_id");
    if (f.after_id && !Uuid::parse(*f.after_id)) return respond(problem(Problem::bad_request, "after_id", path));
    if (auto l = get(q, "limit")) f.limit = std::clamp(std::atoll(l->c_str()), 1LL, 1000LL);
    if (const char* bad = bad_timestamp({{"since", &f.since}, {"until", &f.until}, {"after_at", &f.after_at}})) {
      return respond(problem(Problem::bad_request, std::string(bad) + " must be an ISO 8601 timestamp", path));
    }
    if (f.after_at.has_value() != f.after_id.has_value()) {
      return respond(problem(Problem::bad_request, "after_at and after_id go together", path));
    }
    const auto format = get(q, "format").value_or("json");
    if (format != "json" && format != "csv") return respond(problem(Problem::bad_request, "format must be json or csv", path));
    return deps_.db->run(
        [f, csv = format == "csv"](store::Connection& c) {
          if (csv) {
            // An export is every erasure the filter selects, up to kCsvMaxErasures; past that the
            // answer names where the next export starts (X-Next-After-At, X-Next-After-Id).
            std::vector<store::ErasureSummary> all;
            std::vector<store::ErasureRecipient> recipients;
            auto page = f;
            page.limit = 1000;
            while (static_cast<long long>(all.size()) < kCsvMaxErasures) {
              const auto items = store::list_erasures(c, page);
              std::vector<std::string> ids;
              for (const auto& s : items) ids.push_back(s.id);
              for (auto& r : store::erasure_recipients(c, ids, f.viewer)) recipients.push_back(std::move(r));
              all.insert(all.end(), items.begin(), items.end());
              if (static_cast<long long>(items.size()) < page.limit) break;
              page.after_at = items.back().received_at;
              page.after_id = items.back().id;
            }
            auto r = ledger_csv(all, recipients);
            if (static_cast<long long>(all.size()) >= kCsvMaxErasures) {
              r.headers.emplace_back("X-Next-After-At", all.back().received_at);
              r.headers.emplace_back("X-Next-After-Id", all.back().id);
            }
            return r;
          }
          const auto items = store::list_erasures(c, f);
          std::vector<std::string> ids;
          for (const auto& s : items) ids.push_back(s.id);
          const auto recipients = store::erasure_recipients(c, ids, f.viewer);
          json::array out;
          for (const auto& s : items) {
            auto o = erasure_json(s);
            json::array rs;
            for (const auto& r : recipients) {
              if (r.erasure_id == s.id) rs.push_back(erasure_recipient_json(r));
            }
            o["recipient_states"] = std::move(rs);
            out.push_back(std::move(o));
          }
          json::object body{{"erasures", std::move(out)}};
          if (static_cast<long long>(items.size()) == f.limit && !items.empty()) {
            // Keyset paging: the next page starts after the last erasure of this one.
            body["next"] = json::object{{"after_at", items.back().received_at}, {"after_id", items.back().id}};
          }
          Response r;
          r.body = json::serialize(body);
          return r;
        },
        std::move(respond));
  }
  const auto id = path.substr(std::string("/v1/erasures/").size());
  if (!Uuid::parse(id)) return respond(problem(Problem::not_found, "not an erasure id", path));
  f.id = id;
  f.limit = 1;
  deps_.db->run(
      [f, path](store::Connection& c) {
        const auto items = store::list_erasures(c, f);
        if (items.empty()) return problem(Problem::not_found, "no such erasure for this agency", path);
        auto o = erasure_json(items.front());
        json::array rs;
        for (const auto& r : store::erasure_recipients(c, {items.front().id}, f.viewer)) rs.push_back(erasure_recipient_json(r));
        o["recipient_states"] = std::move(rs);
        Response r;
        r.body = json::serialize(o);
        return r;
      },
      std::move(respond));
}

}  // namespace cjhub::api
