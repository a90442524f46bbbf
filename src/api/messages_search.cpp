// The message search: an agency's own traffic (what it sent and what was routed to it), every
// message for operators; newest first, a page at a time.
//   GET /v1/messages?case_key=&type=&sender=&recipient=&state=&received_from=&received_to=&limit=&cursor=
// Answer: {"messages": [...], "next": "<cursor>"} (`next` only when more may follow). A message of
// an erased case is listed with "erased": true and nothing that could carry subject data.
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

#include "api/message_json.hpp"
#include "api/query.hpp"
#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/store/search_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kPath = "/v1/messages";
constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 200;
constexpr std::size_t kMaxValueLength = 200;
constexpr std::array<const char*, 9> kParameters{"case_key",      "type",        "sender", "recipient", "state",
                                                 "received_from", "received_to", "limit",  "cursor"};

// The cursor: where the page ended, "1.<received_at in microseconds>.<id>" (nothing in it needs
// escaping in a query string). Opaque to clients; the leading version lets its form change.
std::string encode_cursor(const store::SearchPosition& p) {
  return "1." + std::to_string(p.received_us) + "." + p.id;
}

std::optional<store::SearchPosition> decode_cursor(const std::string& text) {
  if (text.size() > 100 || text.rfind("1.", 0) != 0) return std::nullopt;
  const auto dot = text.find('.', 2);
  if (dot == std::string::npos) return std::nullopt;
  store::SearchPosition p;
  const auto* first = text.data() + 2;
  const auto* last = text.data() + dot;
  const auto [end, ec] = std::from_chars(first, last, p.received_us);
  if (ec != std::errc() || end != last || first == last) return std::nullopt;
  const auto id = Uuid::parse(text.substr(dot + 1));
  if (!id) return std::nullopt;
  p.id = id->str();
  return p;
}

json::object to_json(const store::FoundMessage& m) {
  json::object o{{"message_id", m.id},      {"type", m.type},       {"sender_ori", m.sender_ori},
                 {"case_key", m.case_key},  {"received_at", m.received_at}, {"erased", m.erased}};
  if (!m.erased) {
    o["document_id"] = m.document_id;
    o["origin_ori"] = m.origin_ori;
    o["jurisdiction"] = m.jurisdiction;
    o["erasure"] = m.erasure;
    o["body_size"] = m.body_size;
    o["payload_removed"] = m.payload_removed;
  }
  json::array recipients;
  for (const auto& d : m.recipients) recipients.push_back(recipient_json(d));
  o["recipients"] = std::move(recipients);
  return o;
}

}  // namespace

void Handlers::search_messages(const Request& req, Respond respond) {
  const std::string instance(kPath);
  const auto who = caller(req, instance, respond);
  if (!who) return;
  auto bad = [&](const std::string& parameter, const std::string& detail) {
    respond(problem(Problem::bad_request, detail, instance, {{"parameter", parameter}}));
  };

  store::MessageSearch q;
  q.limit = kDefaultLimit;
  if (!who->is_operator()) q.party = who->ori;
  std::set<std::string> seen;
  for (const auto& [name, value] : query_pairs(req.target)) {
    if (std::find(kParameters.begin(), kParameters.end(), name) == kParameters.end()) {
      return bad(name.substr(0, 64), "unknown parameter \"" + name.substr(0, 64) +
                                         "\"; the search takes case_key, type, sender, recipient, state, "
                                         "received_from, received_to, limit and cursor");
    }
    if (!seen.insert(name).second) return bad(name, name + " is given more than once");
    if (value.empty()) return bad(name, name + " is empty");
    if (value.size() > kMaxValueLength) return bad(name, name + " is longer than 200 characters");
    if (name == "case_key") q.case_key = value;
    if (name == "type") q.type = value;
    if (name == "sender") q.sender_ori = value;
    if (name == "recipient") q.recipient_ori = value;
    if (name == "state") {
      if (!store::is_search_state(value)) {
        return bad(name, "state must be pending, in_flight, delivered, acknowledged, rejected, dead or suppressed");
      }
      q.state = value;
    }
    if (name == "received_from" || name == "received_to") {
      if (!valid_rfc3339(value)) {
        return bad(name, name + " must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z (with Z or an "
                                "offset; in a query string write + as %2B)");
      }
      (name == "received_from" ? q.received_from : q.received_to) = value;
    }
    if (name == "limit") {
      int n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > kMaxLimit) {
        return bad(name, "limit must be a whole number from 1 to " + std::to_string(kMaxLimit) + " (default " +
                             std::to_string(kDefaultLimit) + ")");
      }
      q.limit = n;
    }
    if (name == "cursor") {
      q.after = decode_cursor(value);
      if (!q.after) return bad(name, "cursor is not one this search returned (pass `next` unchanged)");
    }
  }
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", instance));
  deps_.db->run(
      [q](store::Connection& c) {
        const auto page = store::search_messages(c, q);
        json::array items;
        for (const auto& m : page.messages) items.push_back(to_json(m));
        json::object body{{"messages", std::move(items)}};
        if (page.next) body["next"] = encode_cursor(*page.next);
        Response r;
        r.body = json::serialize(body);
        return r;
      },
      std::move(respond));
}

}  // namespace cjhub::api
