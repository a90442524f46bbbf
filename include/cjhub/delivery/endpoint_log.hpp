// One endpoint's log as the hub reading it sees it, free of I/O: which entries are read and not
// finished, which may be sent now, which wait behind their case's entry in flight, which finished
// and wait to be recorded, and where the cursor may move. The dispatcher keeps one per leased
// endpoint (under its mutex) and records the rounds through `record_rounds`.
//
// Every entry read and not finished ("open") is always in exactly one place: ready, waiting, in
// flight (the dispatcher sent it), or (briefly, between a recorded round and `release`/`hold_as_rows`)
// in the caller's hands. An entry in none of them would hold the cursor and its case forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/log_repo.hpp"

namespace cjhub::delivery {

struct EndpointLog {
  store::EndpointRow endpoint;
  // This reading of the log: an exchange sent before the lease was lost and taken again finishes
  // into the new reading only if it is the same one (it is not: the new one sends it again).
  std::uint64_t epoch = 0;
  long long position = 0;  // every entry at or before it is finished and recorded
  // The cursor as stored: written on a clock (`round`), so it may lag `position`; what lies between
  // is finished by the recorded rounds' answers and rows.
  long long stored = 0;
  std::chrono::steady_clock::time_point moved_at{};  // when a round last moved the stored cursor
  long long read_through = 0;  // the log was read up to here
  // When a read last found entries (it recorded how far it read: a version of the cursor's row),
  // and whether a read waits for `read_every` to pass since (`may_read`).
  std::chrono::steady_clock::time_point read_at{};
  bool read_waits = false;
  std::set<long long> open;    // entries read and not finished
  std::deque<store::LogEntry> ready;                           // may be sent now, in order
  std::map<std::string, std::deque<store::LogEntry>> waiting;  // behind their case's entry in flight
  // Cases with an entry in flight, or finished and not yet recorded: a case's next entry goes
  // only once the previous one's outcome is committed (no restart can reorder a case).
  std::set<std::string> sending;
  std::set<long long> done;       // finished entries after `position` (recorded with the cursor)
  std::set<std::string> blocked;  // cases whose entry became a row: the later ones queue as rows
  std::vector<store::LogOutcome> outcomes;  // finished since the last round
  std::size_t held_bytes = 0;               // payload bytes of the entries ready and waiting
  bool more = true;                         // the last read was full: read again
  bool leaving = false;  // beyond this hub's share: no more reads; released once nothing is open

  // An entry read from the log: a row of its own when it cannot be sent now (no payload, or its
  // lane has rows to wait behind), else ready, or waiting behind its case's entry in flight.
  void take(store::LogEntry e);
  // Whether more of the log may be read: not while enough is ready to fill the endpoint's capacity,
  // nor while ten batches are open, nor while the payloads waiting here reach `max_bytes`.
  bool has_room(std::size_t claim_batch, std::size_t max_bytes = SIZE_MAX) const;
  // Whether to read the log now, asked by the dispatcher when it has room: at once when the last
  // read was full (a backlog drains at the speed of the reads), else, when `wanted` (a new message
  // was announced), once `read_every` has passed since a read last found entries (each such read
  // rewrites the cursor's row; a busy endpoint reads on that clock and takes more per read). A read
  // held back now is remembered (`read_waits`) for `next_read`.
  bool may_read(bool wanted, std::chrono::steady_clock::time_point now, std::chrono::milliseconds read_every);
  // When the read held back may go (none: no read waits).
  std::optional<std::chrono::steady_clock::time_point> next_read(std::chrono::milliseconds read_every) const;
  // A read was made at `now`: whether it found entries.
  void was_read(bool found, std::chrono::steady_clock::time_point now);
  // The next ready entry, taken to be sent (its payload no longer counts as waiting here).
  store::LogEntry pop_ready();
  // An exchange ended: its outcome waits for the next round, its case's next entry for that round
  // to commit.
  void finished(store::LogOutcome o);
  // The round to record now (the outcomes move into it), if there are outcomes to record or the
  // stored cursor is to move: it moves when it lags `position` (or the low-water mark) and
  // `move_every` has passed since it last moved (at once for an endpoint this hub is leaving).
  std::optional<store::LogRound> round(long long endpoint_id,
                                       std::chrono::steady_clock::time_point now = {},
                                       std::chrono::milliseconds move_every = {});
  // The round could not be recorded: its outcomes come back, ahead of those finished meanwhile.
  void unrecorded(const store::LogRound& r);
  // The round was recorded: the cursor moved. Returns the entries that waited behind the recorded
  // outcomes' cases; their cases stay held until they are given to `release` or `hold_as_rows`.
  std::vector<store::LogEntry> recorded(const store::LogRound& r);
  // Entries returned by `recorded`, once it is known which of their messages lost their payload
  // meanwhile (an erasure): those become suppressed rows, the others go on in order.
  void release(std::vector<store::LogEntry> entries, const std::set<std::string>& erased);
  // Entries returned by `recorded` when whether they were erased is unknown (the database went
  // away): each becomes a queued row, whose claim looks at the payload again.
  void hold_as_rows(std::vector<store::LogEntry> entries);
  // Nothing open, unrecorded or ready, and the stored cursor where this hub finished: the lease
  // may go.
  bool idle() const { return open.empty() && outcomes.empty() && ready.empty() && position <= stored; }
};

// How the rounds are recorded (the store, through the caller's session) and what is said of them.
struct RoundRecording {
  std::function<store::LogRoundResult(const store::LogRound&)> complete;
  std::function<std::set<std::string>(const std::vector<std::string>&)> without_payload;  // message ids
  std::function<void(const store::LogRound&, const store::LogRoundResult&)> on_recorded;  // optional
  std::function<void(long long endpoint_id)> on_lease_lost;                              // optional
  // The clock the stored cursors move on (EndpointLog::round): now, and how often (zero: every
  // round, as when the hub stops).
  std::chrono::steady_clock::time_point now{};
  std::chrono::milliseconds move_every{0};
};

// Records each endpoint's round, one transaction each, in endpoint order. A failure (the database
// went away) keeps the failed round and those after it for the next try, turns the entries that
// earlier rounds released into rows, and is rethrown: nothing read is ever left unaccounted for.
// An endpoint whose lease passed to another hub is dropped (that hub sends its open entries again).
// `m` guards `logs`; it is not held while `complete` or `without_payload` run.
void record_rounds(std::map<long long, EndpointLog>& logs, std::mutex& m, const RoundRecording& how);

}  // namespace cjhub::delivery
