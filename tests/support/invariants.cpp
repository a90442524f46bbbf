#include "support/invariants.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <pqxx/pqxx>

namespace cjhub::test {

namespace {

// The text of the first element whose qualified name ends in `:local` (or is `local`).
std::string element_text(const std::string& body, const std::string& local, std::size_t from = 0) {
  for (auto at = body.find(local + ">", from); at != std::string::npos; at = body.find(local + ">", at + 1)) {
    const auto lt = body.rfind('<', at);
    if (lt == std::string::npos || body[lt + 1] == '/') continue;
    const auto name = body.substr(lt + 1, at - lt - 1);  // "" or the prefix with its colon
    const bool prefix = !name.empty() && name.back() == ':' && name.find_first_of(" \t\r\n\"'=") == std::string::npos;
    if (!name.empty() && !prefix) continue;
    const auto start = at + local.size() + 1;
    const auto end = body.find('<', start);
    if (end == std::string::npos) return {};
    return body.substr(start, end - start);
  }
  return {};
}

}  // namespace

SentMessage describe_sent(const std::string& sender_ori, const std::string& body) {
  SentMessage m;
  m.sender_ori = sender_ori;
  // The root element: the first start tag that is not a declaration, comment or instruction.
  for (std::size_t at = body.find('<'); at != std::string::npos; at = body.find('<', at + 1)) {
    if (at + 1 < body.size() && (body[at + 1] == '?' || body[at + 1] == '!')) continue;
    const auto end = body.find_first_of(" \t\r\n/>", at + 1);
    auto name = body.substr(at + 1, end - at - 1);
    if (const auto colon = name.find(':'); colon != std::string::npos) name = name.substr(colon + 1);
    m.type = name;
    break;
  }
  m.case_key = element_text(body, "CaseTrackingID");
  if (m.type == "Acknowledgement") {
    const auto ref = body.find("ReferencedMessageIdentification");
    if (ref != std::string::npos) m.ack_ref = element_text(body, "IdentificationID", ref);
  }
  return m;
}

std::chrono::system_clock::time_point parse_utc(const std::string& text) {
  std::tm tm{};
  int frac_digits = 0;
  long frac = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    throw std::runtime_error("not an RFC 3339 time: " + text);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  if (const auto dot = text.find('.'); dot != std::string::npos) {
    for (std::size_t i = dot + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      if (frac_digits < 6) {
        frac = frac * 10 + (text[i] - '0');
        ++frac_digits;
      }
    }
  }
  while (frac_digits++ < 6) frac *= 10;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::microseconds(frac);
}

void SentLog::add(SentMessage m) {
  std::lock_guard lock(m_);
  // A replayed answer (a retry with the same key) names a message already here: the first stays.
  if (std::any_of(sent_.begin(), sent_.end(), [&](const SentMessage& s) { return s.id == m.id; })) return;
  sent_.push_back(std::move(m));
}

std::vector<SentMessage> SentLog::all() const {
  std::lock_guard lock(m_);
  return sent_;
}

std::vector<SentMessage> SentLog::of(const std::vector<std::string>& ids) const {
  std::lock_guard lock(m_);
  std::vector<SentMessage> out;
  for (const auto& id : ids) {
    const auto it = std::find_if(sent_.begin(), sent_.end(), [&](const SentMessage& s) { return s.id == id; });
    if (it != sent_.end()) out.push_back(*it);
    else out.push_back(SentMessage{id, "", "", "", "", {}, {}, {}});  // reported as not described
  }
  return out;
}

std::set<std::string> expected_recipients(const SentMessage& m, const std::vector<SentMessage>& log,
                                          const std::vector<ModelSubscription>& subscriptions, std::string* problem) {
  std::set<std::string> out;
  if (m.type.empty()) {
    if (problem) *problem = fmt::format("message {} was not sent through the fixture's post()", m.id);
    return out;
  }
  if (m.type == "ErasureNotice") {
    if (problem) *problem = fmt::format("message {}: erasure notices are not modelled here", m.id);
    return out;
  }
  if (m.type == "Acknowledgement") {
    const auto ref = std::find_if(log.begin(), log.end(), [&](const SentMessage& s) { return s.id == m.ack_ref; });
    if (ref == log.end()) {
      if (problem) *problem = fmt::format("acknowledgement {} refers to {}, not sent by this test", m.id, m.ack_ref);
      return out;
    }
    for (const auto& s : subscriptions) {
      if (s.ori == ref->sender_ori && s.types.count(m.type)) out.insert(s.ori);
    }
    return out;
  }
  for (const auto& s : subscriptions) {
    if (s.ori == m.sender_ori || !s.types.count(m.type)) continue;
    if (s.own_cases_only) {
      if (m.case_key.empty()) continue;
      const bool own = std::any_of(log.begin(), log.end(), [&](const SentMessage& o) {
        return o.sender_ori == s.ori && o.case_key == m.case_key && (o.id == m.id || o.answered_at < m.sent_at);
      });
      if (!own) continue;
    }
    out.insert(s.ori);
  }
  return out;
}

std::string InvariantReport::summary() const {
  auto s = fmt::format(
      "accepted={} stored={} expected_deliveries={} delivered={} receipts={} duplicates={} lost={} unexpected={} "
      "order_violations={} id_mismatches={}",
      accepted, stored, expected_deliveries, delivered, receipts, duplicates, lost, unexpected, order_violations,
      id_mismatches);
  for (const auto& p : problems) s += "\n  " + p;
  return s;
}

InvariantReport check_receipts(const std::vector<SentMessage>& under_test, const std::vector<SentMessage>& log,
                               const std::vector<ModelSubscription>& subscriptions,
                               const std::map<std::string, std::vector<boost::json::object>>& receipts_by_ori) {
  InvariantReport r;
  r.accepted = static_cast<long long>(under_test.size());
  r.stored = r.accepted;
  auto note = [&](std::string p) {
    if (r.problems.size() < 10) r.problems.push_back(std::move(p));
  };
  if (under_test.empty()) note("no message under test: nothing was checked");

  // What the test expects, from its own model.
  std::map<std::string, const SentMessage*> by_id;
  std::map<std::string, std::set<std::string>> expected;  // message id -> recipients
  for (const auto& m : under_test) {
    by_id[m.id] = &m;
    std::string problem;
    expected[m.id] = expected_recipients(m, log, subscriptions, &problem);
    if (!problem.empty()) note(problem);
    r.expected_deliveries += static_cast<long long>(expected[m.id].size());
  }
  for (const auto& [ori, lines] : receipts_by_ori) {
    std::map<std::string, std::string> delivery_of;                     // message -> first delivery id
    std::map<std::string, std::pair<std::size_t, std::size_t>> span;    // message -> first, last copy
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const auto& l = lines[i];
      const std::string message(l.at("message_id").as_string());
      if (!by_id.count(message)) continue;  // not one of the messages under test
      ++r.receipts;
      if (!expected[message].count(ori)) {
        ++r.unexpected;
        note(fmt::format("{} received message {} ({}) that the subscriptions do not send it", ori, message,
                         by_id[message]->type));
        continue;
      }
      const std::string delivery(l.at("delivery_id").as_string());
      auto [d, first] = delivery_of.try_emplace(message, delivery);
      if (!first) {
        ++r.duplicates;
        if (d->second != delivery) {
          ++r.id_mismatches;
          note(fmt::format("{} received message {} as delivery {} and as {}", ori, message, d->second, delivery));
        }
      }
      auto [s, fresh] = span.try_emplace(message, i, i);
      if (!fresh) s->second.second = i;
    }
    for (const auto& [message, recipients] : expected) {
      if (!recipients.count(ori)) continue;
      if (span.count(message)) {
        ++r.delivered;
      } else {
        ++r.lost;
        note(fmt::format("message {} ({}, case {}) never reached {}", message, by_id[message]->type,
                         by_id[message]->case_key, ori));
      }
    }
    // Order: for two messages of one case where the first was answered before the second was sent,
    // every copy of the first precedes the first copy of the second.
    for (const auto& [a, sa] : span) {
      for (const auto& [b, sb] : span) {
        const auto& ma = *by_id[a];
        const auto& mb = *by_id[b];
        if (a == b || ma.case_key.empty() || ma.case_key != mb.case_key || !(ma.answered_at < mb.sent_at)) continue;
        if (sa.second > sb.first) {
          ++r.order_violations;
          note(fmt::format("{}: case {}: message {} (answered first) arrived after message {}", ori, ma.case_key, a, b));
        }
      }
    }
  }
  return r;
}

InvariantReport check_delivery_invariants(const TestDatabase& db, const std::vector<SentMessage>& under_test,
                                          const std::vector<SentMessage>& log,
                                          const std::vector<ModelSubscription>& subscriptions,
                                          const std::map<std::string, std::vector<boost::json::object>>& receipts_by_ori) {
  auto r = check_receipts(under_test, log, subscriptions, receipts_by_ori);
  std::string ids = "{";
  for (std::size_t i = 0; i < under_test.size(); ++i) ids += (i ? "," : "") + under_test[i].id;
  ids += "}";
  auto conn = db.connect();
  pqxx::nontransaction tx(*conn);
  r.stored = tx.exec_params1("SELECT count(*) FROM messages WHERE id = ANY ($1::uuid[])", ids)[0].as<long long>();
  if (r.stored != r.accepted && r.problems.size() < 10) {
    r.problems.push_back(fmt::format("{} accepted message(s) not stored", r.accepted - r.stored));
  }
  r.lost += r.accepted - r.stored;
  return r;
}

}  // namespace cjhub::test
