#include "cjhub/delivery/endpoint_log.hpp"

#include <algorithm>
#include <iterator>

#include "cjhub/ops/metrics.hpp"

namespace cjhub::delivery {

void EndpointLog::take(store::LogEntry e) {
  open.insert(e.seq);
  const auto as_row = [&](store::LogOutcome::Kind kind, std::string why) {
    store::LogOutcome o;
    o.kind = kind;
    o.seq = e.seq;
    o.message_id = e.message_id;
    o.case_key = e.case_key;
    o.subscription_id = e.subscription_id;
    o.error = std::move(why);
    outcomes.push_back(std::move(o));
    open.erase(e.seq);
  };
  if (!e.body) {
    metrics::registry().deliveries.add({"suppressed"});
    return as_row(store::LogOutcome::Kind::suppressed, "payload removed (erased case)");
  }
  if (!e.case_key.empty() && (e.lane_has_rows || blocked.count(e.case_key))) {
    blocked.insert(e.case_key);
    return as_row(store::LogOutcome::Kind::queued, "");
  }
  held_bytes += e.body ? e.body->size() : 0;
  if (!e.case_key.empty() && (sending.count(e.case_key) || waiting.count(e.case_key))) {
    waiting[e.case_key].push_back(std::move(e));
    return;
  }
  if (!e.case_key.empty()) sending.insert(e.case_key);
  ready.push_back(std::move(e));
}

bool EndpointLog::has_room(std::size_t claim_batch, std::size_t max_bytes) const {
  return ready.size() < static_cast<std::size_t>(endpoint.max_in_flight) && open.size() < 10 * claim_batch &&
         held_bytes < max_bytes;
}

bool EndpointLog::may_read(bool wanted, std::chrono::steady_clock::time_point now,
                           std::chrono::milliseconds read_every) {
  if (more) return true;
  if (!wanted && !read_waits) return false;
  if (now - read_at < read_every) {
    read_waits = true;
    return false;
  }
  return true;
}

std::optional<std::chrono::steady_clock::time_point> EndpointLog::next_read(std::chrono::milliseconds read_every) const {
  if (!read_waits) return std::nullopt;
  return read_at + read_every;
}

void EndpointLog::was_read(bool found, std::chrono::steady_clock::time_point now) {
  read_waits = false;
  if (found) read_at = now;
}

store::LogEntry EndpointLog::pop_ready() {
  auto e = std::move(ready.front());
  ready.pop_front();
  held_bytes -= std::min(held_bytes, e.body ? e.body->size() : 0);
  return e;
}

void EndpointLog::finished(store::LogOutcome o) {
  const auto seq = o.seq;
  outcomes.push_back(std::move(o));
  open.erase(seq);
  done.insert(seq);  // the case's next entry waits until this is recorded
}

std::optional<store::LogRound> EndpointLog::round(long long endpoint_id, std::chrono::steady_clock::time_point now,
                                                  std::chrono::milliseconds move_every) {
  // The low-water mark: everything before the first entry still open.
  const long long low = open.empty() ? read_through : *open.begin() - 1;
  const long long to = std::max(low, position);
  // Each move is a row version a long snapshot keeps: on a clock, not every round.
  const bool move = to > stored && (leaving || now - moved_at >= move_every);
  if (outcomes.empty() && !move) return std::nullopt;
  store::LogRound r;
  r.endpoint_id = endpoint_id;
  r.recipient_ori = endpoint.ori;
  r.position = to;
  r.move_cursor = move;
  if (move) moved_at = now;
  for (const auto seq : done) {
    if (seq > r.position) r.done.push_back(seq);
  }
  r.outcomes = std::move(outcomes);
  outcomes.clear();
  return r;
}

void EndpointLog::unrecorded(const store::LogRound& r) {
  outcomes.insert(outcomes.begin(), r.outcomes.begin(), r.outcomes.end());
  if (r.move_cursor) moved_at = {};  // the move is still due
}

std::vector<store::LogEntry> EndpointLog::recorded(const store::LogRound& r) {
  std::vector<store::LogEntry> released;
  position = r.position;
  if (r.move_cursor) stored = std::max(stored, r.position);
  done.erase(done.begin(), done.upper_bound(r.position));
  // A lane whose rows were all created is no longer blocked once nothing of it is open here.
  for (auto b = blocked.begin(); b != blocked.end();) {
    const bool busy = sending.count(*b) || waiting.count(*b);
    b = busy ? std::next(b) : blocked.erase(b);
  }
  // Recorded: each sent entry's case lets its next entry go (behind a retry, as a row).
  for (const auto& o : r.outcomes) {
    if (o.case_key.empty() || o.kind == store::LogOutcome::Kind::queued ||
        o.kind == store::LogOutcome::Kind::suppressed) {
      continue;
    }
    if (o.kind == store::LogOutcome::Kind::retry) blocked.insert(o.case_key);
    sending.erase(o.case_key);
    auto w = waiting.find(o.case_key);
    if (w == waiting.end()) continue;
    sending.insert(o.case_key);  // held until the entries are looked at again
    for (const auto& e : w->second) held_bytes -= std::min(held_bytes, e.body ? e.body->size() : 0);
    std::move(w->second.begin(), w->second.end(), std::back_inserter(released));
    waiting.erase(w);
  }
  return released;
}

void EndpointLog::release(std::vector<store::LogEntry> entries, const std::set<std::string>& erased) {
  for (const auto& e : entries) sending.erase(e.case_key);  // the case's hold goes once...
  for (auto& e : entries) {                                 // ...then its entries queue in order
    if (erased.count(e.message_id)) e.body.reset();
    take(std::move(e));
  }
}

void EndpointLog::hold_as_rows(std::vector<store::LogEntry> entries) {
  for (const auto& e : entries) {
    sending.erase(e.case_key);
    blocked.insert(e.case_key);
  }
  for (auto& e : entries) take(std::move(e));
}

void record_rounds(std::map<long long, EndpointLog>& logs, std::mutex& m, const RoundRecording& how) {
  std::vector<store::LogRound> rounds;
  {
    std::lock_guard lock(m);
    for (auto& [id, le] : logs) {
      if (auto r = le.round(id, how.now, how.move_every)) rounds.push_back(std::move(*r));
    }
  }
  // Entries that waited behind their case's previous one: read a while ago, so whether the case was
  // erased since is asked again before they go.
  std::map<long long, std::vector<store::LogEntry>> released;
  const auto hold_released = [&] {
    std::lock_guard lock(m);
    for (auto& [id, entries] : released) {
      if (auto it = logs.find(id); it != logs.end()) it->second.hold_as_rows(std::move(entries));
    }
  };
  for (std::size_t k = 0; k < rounds.size(); ++k) {
    const auto& r = rounds[k];
    store::LogRoundResult res;
    try {
      res = how.complete(r);
    } catch (...) {
      // This round and the ones after it are kept for the next try: an outcome is never dropped
      // (its case waits for it, and a failure in it becomes a row only when it is recorded). What
      // the earlier rounds released waits as rows.
      {
        std::lock_guard lock(m);
        for (std::size_t j = k; j < rounds.size(); ++j) {
          if (auto it = logs.find(rounds[j].endpoint_id); it != logs.end()) it->second.unrecorded(rounds[j]);
        }
      }
      hold_released();
      throw;
    }
    {
      std::lock_guard lock(m);
      const auto it = logs.find(r.endpoint_id);
      if (it == logs.end()) continue;
      if (!res.lease_held) {
        logs.erase(it);
        if (how.on_lease_lost) how.on_lease_lost(r.endpoint_id);
        continue;
      }
      auto freed = it->second.recorded(r);
      if (!freed.empty()) {
        auto& into = released[r.endpoint_id];
        std::move(freed.begin(), freed.end(), std::back_inserter(into));
      }
    }
    if (how.on_recorded) how.on_recorded(r, res);
  }
  if (released.empty()) return;
  std::vector<std::string> ids;
  for (const auto& [id, entries] : released) {
    for (const auto& e : entries) ids.push_back(e.message_id);
  }
  std::set<std::string> erased;
  try {
    erased = how.without_payload(ids);
  } catch (...) {
    // Unknown: they become rows (whose claim looks at the payload again) rather than go now.
    hold_released();
    throw;
  }
  std::lock_guard lock(m);
  for (auto& [id, entries] : released) {
    if (auto it = logs.find(id); it != logs.end()) it->second.release(std::move(entries), erased);
  }
}

}  // namespace cjhub::delivery
