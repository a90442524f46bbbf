#include "cjhub/certify/grade.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <set>

#include "cjhub/common/time.hpp"

namespace cjhub::certify {

namespace {

using Check = certify::Check;

std::string at(std::int64_t us) { return rfc3339(SystemTime(std::chrono::microseconds(us))); }

std::string span(std::int64_t us) {
  const auto minutes = us / 60'000'000;
  if (minutes < 60) return fmt::format("{} min", minutes);
  return fmt::format("{} h {} min", minutes / 60, minutes % 60);
}

std::string key(const Criterion& c, const Field& f) { return c.id + "/" + f.name; }

std::string doc_name(const store::SentMessage& m) {
  return m.document_id.empty() ? "message " + m.id : "message " + m.id + " (document " + m.document_id + ")";
}

// Evidence lines are capped; the summary keeps the full counts.
void note(Result& r, std::string line) {
  if (r.evidence.size() < kMaxEvidence) r.evidence.push_back(std::move(line));
}

std::vector<const SentDocument*> documents_of(const Evidence& e, const std::string& type) {
  std::vector<const SentDocument*> out;
  for (const auto& d : e.documents) {
    if (d.message.type == type) out.push_back(&d);
  }
  return out;
}

// What is wrong with one value of a field ("" when nothing).
std::string fault(const Criteria& all, const Field& f, const std::regex* pattern, const std::string& v) {
  if (f.format == "date" && !valid_date(v)) return "'" + v + "' is not a date (YYYY-MM-DD)";
  if (f.format == "datetime" && !parse_datetime(v)) return "'" + v + "' is not a date and time with a UTC offset";
  if (pattern != nullptr && !std::regex_match(v, *pattern)) {
    return "'" + v + "' does not match " + f.pattern;
  }
  if (!f.code_list.empty() && !all.code_lists.at(f.code_list).count(v)) {
    return "'" + v + "' is not in the code list " + f.code_list;
  }
  return "";
}

void accepted(const Criterion& c, const Evidence& e, Result& r) {
  const auto docs = documents_of(e, c.message_type);
  long long n = 0;
  if (c.fields.empty()) {
    n = static_cast<long long>(docs.size());
    for (const auto* d : docs) note(r, "accepted " + doc_name(d->message) + " at " + at(d->message.received_us));
    r.summary = fmt::format("{} {} accepted (at least {} needed)", n, c.message_type, c.min);
  } else {
    const auto& with = c.fields.front();
    for (const auto* d : docs) {
      const auto it = d->values.find(key(c, with));
      const auto count = it == d->values.end() ? 0 : it->second.size();
      if (count > 0) {
        ++n;
        note(r, fmt::format("accepted {} at {} with {} {}", doc_name(d->message), at(d->message.received_us), count,
                            with.name));
      } else {
        note(r, fmt::format("{} has no {}{}", doc_name(d->message), with.name, d->readable ? "" : " (no longer stored)"));
      }
    }
    r.summary = fmt::format("{} {} accepted with {} ({} accepted in all; at least {} needed)", n, c.message_type,
                            with.name, docs.size(), c.min);
  }
  r.passed = n >= c.min;
}

void clean_submissions(const Criterion& c, const Evidence& e, Result& r) {
  const auto& all = e.submissions;
  const auto n = std::min<std::size_t>(all.size(), static_cast<std::size_t>(c.last));
  long long refused = 0;
  for (auto i = all.size() - n; i < all.size(); ++i) {
    const auto& s = all[i];
    if (s.outcome.rfind("refused:", 0) == 0 && c.refusals.count(s.outcome.substr(8))) {
      ++refused;
      note(r, fmt::format("audit record {} at {}: {}", s.audit_id, at(s.at_us), s.outcome));
    }
  }
  r.passed = n > 0 && refused == 0;
  r.summary = n == 0 ? std::string("no submission in the window")
                     : fmt::format("{} of the latest {} submissions refused as invalid", refused, n);
}

void required_data(const Criteria& all, const Criterion& c, const Evidence& e, Result& r) {
  long long graded = 0, faulty = 0, unreadable = 0;
  std::map<std::string, std::regex> patterns;  // compiled once per field
  for (const auto& f : c.fields) {
    if (!f.pattern.empty()) patterns.emplace(f.name, std::regex(f.pattern));
  }
  for (const auto* d : documents_of(e, c.message_type)) {
    if (!d->readable) {
      ++unreadable;
      continue;
    }
    ++graded;
    std::vector<std::string> problems;
    for (const auto& f : c.fields) {
      const auto it = d->values.find(key(c, f));
      if (it == d->values.end() || it->second.empty()) {
        problems.push_back("no " + f.name);
        continue;
      }
      std::vector<std::string> bad;
      for (const auto& v : it->second) {
        const auto p = patterns.find(f.name);
        if (auto why = fault(all, f, p == patterns.end() ? nullptr : &p->second, v); !why.empty()) {
          bad.push_back(f.name + " " + why);
        }
      }
      if (f.every ? !bad.empty() : bad.size() == it->second.size()) problems.push_back(bad.front());
    }
    if (!problems.empty()) {
      ++faulty;
      std::string joined;
      for (const auto& p : problems) joined += (joined.empty() ? "" : "; ") + p;
      note(r, doc_name(d->message) + ": " + joined);
    }
  }
  r.passed = graded > 0 && faulty == 0;
  r.summary = graded == 0 ? fmt::format("no {} to read", c.message_type)
                          : fmt::format("{} of {} {} complete and well-formed", graded - faulty, graded, c.message_type);
  if (unreadable > 0) r.summary += fmt::format(" ({} no longer stored, not graded)", unreadable);
}

void timeliness(const Criterion& c, const Evidence& e, Result& r) {
  const auto& f = c.fields.front();
  long long graded = 0, late = 0;
  for (const auto* d : documents_of(e, c.message_type)) {
    if (!d->readable) continue;
    ++graded;
    const auto it = d->values.find(key(c, f));
    const auto event = it == d->values.end() || it->second.empty() ? std::nullopt : parse_datetime(it->second.front());
    if (!event) {
      ++late;
      note(r, doc_name(d->message) + ": no " + f.name + " with a UTC offset");
      continue;
    }
    const auto took = d->message.received_us - *event;
    if (took > c.max_minutes * 60'000'000) {
      ++late;
      note(r, fmt::format("{}: received at {}, {} after the {} {}", doc_name(d->message), at(d->message.received_us),
                          span(took), f.name, it->second.front()));
    }
  }
  r.passed = graded > 0 && late == 0;
  r.summary = graded == 0 ? fmt::format("no {} to read", c.message_type)
                          : fmt::format("{} of {} {} received within {} min of the {}", graded - late, graded,
                                        c.message_type, c.max_minutes, f.name);
}

void idempotent_retries(const Evidence& e, Result& r) {
  long long conflicts = 0, replays = 0;
  for (const auto& s : e.submissions) {
    if (s.outcome == "duplicate") ++replays;
    if (s.outcome == "refused:idempotency-conflict") {
      ++conflicts;
      note(r, fmt::format("audit record {} at {}: 422 idempotency-conflict (the key was used for another body)",
                          s.audit_id, at(s.at_us)));
    }
  }
  std::map<std::string, std::vector<const store::SentMessage*>> by_document;
  for (const auto& d : e.documents) {
    if (!d.message.document_id.empty()) by_document[d.message.type + " " + d.message.document_id].push_back(&d.message);
  }
  long long twice = 0;
  for (const auto& [doc, messages] : by_document) {
    if (messages.size() < 2) continue;
    ++twice;
    std::string ids;
    for (const auto* m : messages) ids += (ids.empty() ? "" : ", ") + m->id + " at " + at(m->received_us);
    note(r, fmt::format("{} accepted {} times under different keys: {}", doc, messages.size(), ids));
  }
  r.passed = conflicts == 0 && twice == 0;
  r.summary = fmt::format("{} retries recognised as replays; {} idempotency conflicts; {} documents accepted twice",
                          replays, conflicts, twice);
}

void certificate(const Criterion& c, const Evidence& e, Result& r) {
  if (!e.agency.certificate_not_after) {
    r.summary = "no accepted submission has recorded its certificate yet";
    return;
  }
  const auto left_us = *e.agency.certificate_not_after * 1'000'000 - e.now_us;
  const auto days = left_us / 86'400'000'000;
  note(r, "the certificate of the latest accepted submission is valid until " + at(*e.agency.certificate_not_after * 1'000'000));
  r.passed = left_us >= c.min_days * 86'400'000'000;
  r.summary = left_us < 0 ? std::string("the certificate in use has expired")
                          : fmt::format("the certificate in use is valid for {} more days (at least {} needed)", days,
                                        c.min_days);
}

std::optional<std::string> first_2xx(const store::DeliveryStatus& d) {
  for (const auto& a : d.history) {
    if (a.status && *a.status >= 200 && *a.status < 300) return a.at;
  }
  return std::nullopt;
}
// Received once answered 2xx: a redelivered duplicate refused later does not undo that.
bool reached(const store::DeliveryStatus& d) {
  return d.state == "delivered" || d.state == "acknowledged" || d.state == "rejected" || first_2xx(d).has_value();
}

void delivery_order(const Criterion& c, const Evidence& e, Result& r) {
  std::map<std::string, std::vector<const store::ReceivedMessage*>> cases;
  long long messages = 0;
  for (const auto& m : e.received) {
    if (m.case_key.empty() || m.delivery.state == "suppressed") continue;
    cases[m.case_key].push_back(&m);
    if (reached(m.delivery)) ++messages;
  }
  long long broken = 0;
  for (auto& [case_key, list] : cases) {
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    const store::ReceivedMessage* missing = nullptr;
    std::string last_at;
    const store::ReceivedMessage* last = nullptr;
    for (const auto* m : list) {
      if (!reached(m->delivery)) {
        if (m->delivery.state == "dead" && missing == nullptr) missing = m;
        continue;
      }
      if (missing != nullptr) {
        ++broken;
        note(r, fmt::format("case {}: message {} reached the endpoint but the earlier {} never did ({}: {})", case_key,
                            m->message_id, missing->message_id, missing->delivery.state, missing->delivery.last_error));
        missing = nullptr;
      }
      const auto when = first_2xx(m->delivery);
      if (when && last != nullptr && *when < last_at) {
        ++broken;
        note(r, fmt::format("case {}: message {} was answered at {}, before the earlier {} at {}", case_key,
                            m->message_id, *when, last->message_id, last_at));
      }
      if (when) {
        last_at = *when;
        last = m;
      }
    }
  }
  r.passed = broken == 0 && messages >= c.min;
  r.summary = fmt::format("{} messages of {} cases reached the endpoint; {} out of order or with a gap (at least {} needed)",
                          messages, cases.size(), broken, c.min);
}

void delivery_answers(const Criterion& c, const Evidence& e, Result& r) {
  long long attempted = 0, missed = 0;
  for (const auto& m : e.received) {
    const auto& d = m.delivery;
    if (d.history.empty() && d.state != "dead") continue;
    ++attempted;
    const bool first_ok = !d.history.empty() && d.history.front().status && *d.history.front().status >= 200 &&
                          *d.history.front().status < 300;
    if (first_ok) continue;
    ++missed;
    const auto& a = d.history.empty() ? store::AttemptRecord{} : d.history.front();
    note(r, fmt::format("message {} ({}): first attempt at {} answered {}{}; now {} after {} attempts", m.message_id,
                        m.type, a.at, a.status ? std::to_string(*a.status) : std::string("nothing"),
                        a.error.empty() ? "" : " (" + a.error + ")", d.state, d.history.size()));
  }
  const double percent = attempted == 0 ? 100.0 : 100.0 * static_cast<double>(missed) / static_cast<double>(attempted);
  r.passed = attempted >= c.min && percent <= static_cast<double>(c.max_percent);
  r.summary = fmt::format("{} of {} deliveries answered 2xx at the first attempt ({:.1f} % not; at most {} % allowed; "
                          "at least {} deliveries needed)",
                          attempted - missed, attempted, percent, c.max_percent, c.min);
}

void duplicate_redelivery(const Criterion& c, const Evidence& e, Result& r) {
  const auto& t = e.duplicate;
  if (!t.attempted || !t.sent) {
    r.summary = t.note.empty() ? std::string("no duplicate was sent") : t.note;
    return;
  }
  note(r, fmt::format("message {} sent again as delivery {} to endpoint {}", t.sent->message_id, t.sent->delivery_id,
                      t.sent->endpoint));
  if (!t.outcome) {
    r.summary = "the redelivered duplicate has no recorded outcome";
    return;
  }
  const auto& d = *t.outcome;
  for (const auto& a : d.history) {
    note(r, fmt::format("attempt at {}: {}{}", a.at, a.status ? std::to_string(*a.status) : std::string("no answer"),
                        a.error.empty() ? "" : " (" + a.error + ")"));
  }
  r.passed = d.state == "delivered" && d.last_status && *d.last_status >= 200 && *d.last_status < 300;
  r.summary = r.passed ? std::string("the endpoint answered the redelivered duplicate 2xx")
                       : fmt::format("the endpoint did not answer the redelivered duplicate 2xx within {} s: {}{}{}",
                                     c.wait_seconds, d.state,
                                     d.last_status ? " " + std::to_string(*d.last_status) : std::string(),
                                     d.last_error.empty() ? "" : " (" + d.last_error + ")");
}

void erasure_acknowledged(const Criterion& c, const Evidence& e, Result& r) {
  const auto allowed = c.within_hours * 3'600'000'000LL;
  long long graded = 0, faulty = 0, waiting = 0;
  for (const auto& o : e.obligations) {
    if (o.state == "suppressed") continue;
    const bool done = o.ack_status == "completed";
    const bool in_time = done && o.acknowledged_us - o.sent_us <= allowed;
    // Still owed and still possible: not acknowledged yet, or only received, and not dead-lettered
    // (a notice the endpoint refused, or acknowledged as rejected, is graded at once).
    const bool may_complete = (o.ack_status.empty() || o.ack_status == "received") && o.state != "dead";
    if (!done && e.now_us - o.sent_us <= allowed && may_complete) {
      ++waiting;
      note(r, fmt::format("notice {} (erasure {}) sent at {}: {}, still within {} h (not graded)", o.message_id,
                          o.erasure_id, at(o.sent_us),
                          o.ack_status.empty() ? "not yet acknowledged" : "acknowledged received, not yet completed",
                          c.within_hours));
      continue;
    }
    ++graded;
    if (in_time) {
      note(r, fmt::format("notice {} (erasure {}) sent at {}: completed after {}", o.message_id, o.erasure_id,
                          at(o.sent_us), span(o.acknowledged_us - o.sent_us)));
      continue;
    }
    ++faulty;
    note(r, fmt::format("notice {} (erasure {}) sent at {}: {}", o.message_id, o.erasure_id, at(o.sent_us),
                        done ? "completed after " + span(o.acknowledged_us - o.sent_us) + ", later than " +
                                   std::to_string(c.within_hours) + " h"
                        : o.ack_status.empty() ? (o.state == "dead" ? std::string("never received: dead-lettered")
                                                                    : "never acknowledged (" + o.state + ")")
                                               : "acknowledged " + o.ack_status + ", not completed"));
  }
  r.passed = graded >= c.min && faulty == 0;
  r.summary = fmt::format("{} of {} erasure notices acknowledged completed within {} h ({} still within their time; "
                          "at least {} needed)",
                          graded - faulty, graded, c.within_hours, waiting, c.min);
}

}  // namespace

std::optional<std::int64_t> parse_datetime(const std::string& text) {
  static const std::regex re(R"(^(-?\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year(std::stoi(m[1])), month(static_cast<unsigned>(std::stoi(m[2]))),
                           day(static_cast<unsigned>(std::stoi(m[3])))};
  const int h = std::stoi(m[4]), mi = std::stoi(m[5]), s = std::stoi(m[6]);
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  std::int64_t us = duration_cast<microseconds>(sys_days(ymd).time_since_epoch()).count() +
                    ((h * 60LL + mi) * 60 + s) * 1'000'000;
  if (m[7].matched) {
    auto frac = m[7].str().substr(1, 6);
    frac.resize(6, '0');
    us += std::stoll(frac);
  }
  const auto tz = m[8].str();
  if (tz != "Z") {
    const int sign = tz[0] == '-' ? -1 : 1;
    const int oh = std::stoi(tz.substr(1, 2)), om = std::stoi(tz.substr(4, 2));
    if (oh > 14 || om > 59) return std::nullopt;
    us -= sign * (oh * 60LL + om) * 60'000'000;
  }
  return us;
}

bool valid_date(const std::string& text) {
  static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return false;
  using namespace std::chrono;
  return year_month_day{year(std::stoi(m[1])), month(static_cast<unsigned>(std::stoi(m[2]))),
                        day(static_cast<unsigned>(std::stoi(m[3])))}
      .ok();
}

bool Report::passed() const { return failures() == 0 && !results.empty(); }
std::size_t Report::failures() const {
  return static_cast<std::size_t>(std::count_if(results.begin(), results.end(), [](const Result& r) { return !r.passed; }));
}

Report grade(const Criteria& criteria, int level, const Evidence& e) {
  Report rep;
  rep.ori = e.agency.ori;
  rep.agency_name = e.agency.name;
  rep.criteria_version = criteria.version;
  rep.criteria_title = criteria.title;
  rep.level = level;
  rep.level_name = criteria.has_level(level) ? criteria.level_names.at(level) : "";
  rep.since_us = e.since_us;
  rep.generated_us = e.now_us;
  for (const auto* c : criteria.for_level(level)) {
    Result r;
    r.criterion = c;
    switch (c->check) {
      case Check::accepted: accepted(*c, e, r); break;
      case Check::clean_submissions: clean_submissions(*c, e, r); break;
      case Check::required_data: required_data(criteria, *c, e, r); break;
      case Check::timeliness: timeliness(*c, e, r); break;
      case Check::idempotent_retries: idempotent_retries(e, r); break;
      case Check::certificate: certificate(*c, e, r); break;
      case Check::delivery_order: delivery_order(*c, e, r); break;
      case Check::delivery_answers: delivery_answers(*c, e, r); break;
      case Check::duplicate_redelivery: duplicate_redelivery(*c, e, r); break;
      case Check::erasure_acknowledged: erasure_acknowledged(*c, e, r); break;
    }
    rep.results.push_back(std::move(r));
  }
  return rep;
}

}  // namespace cjhub::certify
