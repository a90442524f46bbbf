// The delivery log: the messages in `seq` order, each with the endpoints it goes to, and a cursor
// per endpoint. A dispatcher leases an endpoint's cursor, reads the log after it in batches, sends
// (within a case strictly in order), records each batch's delivered entries with their answers and
// moves the cursor to the low-water mark of what it finished on a clock (once a second). What
// leaves this normal path becomes a row in `deliveries`.
#pragma once

#include "cjhub/store/connection.hpp"
#include "cjhub/store/deliveries_repo.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cjhub::store {

// The delivery id of a log entry (a UUID made of the endpoint and the position): the same for the
// first attempt on the log and for the row a retry of it becomes.
std::string log_delivery_id(long long endpoint_id, long long seq);

struct CursorLease {
  long long endpoint_id = 0;
  long long position = 0;        // the cursor as stored: every entry at or before it is finished
  // And so are these, after it: the cursor's `done` and the entries answered by the rounds recorded
  // since it moved (empty for an endpoint the caller said it reads already).
  std::vector<long long> done;
};
// Renews this hub's leases (and names its database session after it, so other hubs see it alive)
// for `lease_ms`, each once it has run `renew_every_ms` since it was last renewed (0: at every
// call), and takes free ones, expired ones and those of hubs with no session left, at most `max_new` new ones per call and
// none beyond its share: the active endpoints over the dispatchers seen within a lease, rounded
// up. A hub holding more than its share (another hub started) gives the extra ones up itself
// (release_cursors) once nothing of theirs is in flight, so no entry is sent twice. `reading`: the
// endpoints the caller reads already (it knows what is finished there; not looked up again).
struct CursorLeases {
  std::vector<CursorLease> held;  // every cursor this hub holds now
  int share = 0;
  // The hubs whose cursors this call took over: they stopped (no session left) or their lease
  // ran out; what they had read and not recorded is sent again.
  std::vector<std::string> taken_over;
};
CursorLeases lease_cursors(Connection& conn, const std::string& hub, int lease_ms, int max_new,
                           int renew_every_ms = 0, const std::vector<long long>& reading = {});
// Gives up this hub's leases (at shutdown, or an endpoint it no longer serves).
std::size_t release_cursors(Connection& conn, const std::string& hub,
                            const std::vector<long long>& endpoint_ids = {});

struct LogEntry {
  long long seq = 0;
  std::string message_id;
  std::string message_type;
  std::string sender_ori;
  std::string case_key;
  long long subscription_id = 0;
  std::optional<std::string> body;  // nullopt: the payload was removed (erasure, retention)...
  bool body_held = false;           // ...or the reader holds it already (`held`): not read again
  // The lane (this endpoint, this case) has open rows (a retry, entries waiting behind it, an
  // owed acknowledgement): this entry must wait behind them as a row of its own.
  bool lane_has_rows = false;
  std::string request_id;  // of the POST that brought the message (empty: none)
};
struct LogBatch {
  std::vector<LogEntry> entries;
  bool lease_lost = false;  // another hub holds the cursor now: nothing was read
  // The log was read up to here: an entry after it is unread. With no entries this is where the
  // cursor may move (nothing at or before it is for this endpoint).
  long long read_through = 0;
  bool full = false;  // it stopped at its limit or its bytes: there may be more to read now
};
// Entries for `endpoint_id` after `after`, in order: at most `limit`, looking at no more than
// `window` positions of the log, while `hub` holds the cursor (which records how far it read).
// `held` says which entries' bodies the reader already has (read for another endpoint): those
// come without their body and with `body_held` (unless the payload was removed meanwhile).
// At most `limit` entries, and no more once their payloads reach `max_bytes` (at least one).
LogBatch read_log(Connection& conn, long long endpoint_id, const std::string& hub, long long after, int limit,
                  long long window = 50000, const std::function<bool(long long seq)>& held = {},
                  std::size_t max_bytes = SIZE_MAX);

// Which of these messages have no payload any more (erased, or past retention).
std::set<std::string> without_payload(Connection& conn, const std::vector<std::string>& message_ids);

// Moves the cursor forward to `position` (never back) and records which entries after it are
// finished (`done`; those at or before the position are dropped), if `hub` still holds its lease.
// False when the lease was lost: another hub reads this endpoint now.
bool advance_cursor(Transaction& tx, long long endpoint_id, const std::string& hub, long long position,
                    const std::vector<long long>& done = {});

// What became of one log entry. Delivered ones write nothing of their own; the others become
// rows: a retry (pending, due after `delay`), a dead letter, a suppressed delivery (no payload),
// or `queued` behind a row of its lane.
struct LogOutcome {
  enum class Kind { delivered, retry, dead, suppressed, queued } kind = Kind::delivered;
  long long seq = 0;
  std::string message_id;
  std::string case_key;
  long long subscription_id = 0;
  std::optional<int> http_status;
  std::string error;
  std::chrono::milliseconds delay{0};
  bool endpoint_failure = false;  // counts toward pausing the endpoint
  std::chrono::system_clock::time_point attempted_at{};  // when the exchange began (outages start and end there)
  std::chrono::milliseconds took{0};  // from the start of the exchange to its answer (or its failure)
  // Delivered with an acknowledgement in the answer: the entry becomes a row, which records it.
  std::shared_ptr<const NewMessage> ack;
  std::string sender_ori;  // the message's sender (its receipt goes there)
};
// One transaction per endpoint and batch: the delivered entries are recorded with their answers, the
// cursor moves to `position` (the low-water mark of finished entries) when `move_cursor` says so,
// the outcomes that left the normal path become rows, the lanes whose queued
// head the cursor passed go on, the endpoint's health is updated and one audit record names the
// delivered range (the exceptions one each).
struct LogRound {
  long long endpoint_id = 0;
  std::string recipient_ori;
  long long position = 0;
  std::vector<long long> done;  // every finished entry after `position`
  std::vector<LogOutcome> outcomes;
  // Whether the stored cursor moves to `position` (with `done`); else the round's delivered entries
  // are finished by their answers alone, and `position` only says which lanes the round passed.
  bool move_cursor = true;
};
struct LogRoundResult {
  bool lease_held = true;  // false: nothing was written, another hub reads this endpoint now
  std::vector<CompletionResult> acknowledged;  // the entries whose answers carried acknowledgements
  std::size_t delivered = 0;
  std::size_t rows = 0;
  std::size_t promoted = 0;
  bool endpoint_paused_now = false;
};
LogRoundResult complete_log(Connection& conn, const std::string& hub, const LogRound& round,
                            unsigned pause_after_failures);

}  // namespace cjhub::store
