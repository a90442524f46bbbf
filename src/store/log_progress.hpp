// What "finished" means for an entry of an endpoint's log, in SQL, written once for every statement
// that asks it (leases, lanes, routing and acknowledgements on the log, erasures, endpoint
// retirement, message states and search, the backlog, retention). Internal to the store; the view
// `delivery_states` (migration 0027) says the same in SQL of its own.
//
// The cursor (`endpoint_cursors`: `position`, and `done`, the finished entries after it) is moved on
// a clock (migration 0027); the rounds recorded since it last moved put their delivered entries in
// `log_answers` (`last_seq` the highest of them). An entry is finished at cursor C when it is at or
// before C.position, in C.done, or answered after the cursor; an entry that became a row of
// `deliveries` is that row's (each statement says so itself).
#pragma once

// The log entry at seq S (an SQL expression) is answered by a round of C's endpoint.
#define CJHUB_LOG_ANSWERED(S, C)                                                                    \
  "EXISTS (SELECT 1 FROM log_answers la WHERE la.endpoint_id = " #C ".endpoint_id AND la.last_seq >= " \
  S " AND la.seqs @> ARRAY[" S "]::bigint[])"
// The log entry of message M (an alias of `messages`) is finished at cursor C (`endpoint_cursors`).
#define CJHUB_LOG_ENTRY_DONE(M, C)                                                     \
  "(" #M ".seq <= " #C ".position OR " #M ".seq = ANY (" #C ".done) OR " CJHUB_LOG_ANSWERED( \
      #M ".seq", C) ")"
// Every finished entry after cursor C: its `done` and what the rounds since it moved answered.
#define CJHUB_LOG_DONE_AFTER(C)                                                                          \
  "(" #C ".done || ARRAY(SELECT s FROM log_answers la CROSS JOIN LATERAL unnest(la.seqs) AS s "          \
  "WHERE la.endpoint_id = " #C ".endpoint_id AND la.last_seq > " #C ".position AND s > " #C ".position))"
// When the entry at seq S was recorded delivered by a round of C's endpoint (NULL if none was).
#define CJHUB_LOG_ANSWERED_AT(S, C)                                                                   \
  "(SELECT max(la.recorded_at) FROM log_answers la WHERE la.endpoint_id = " #C ".endpoint_id AND la.seqs @> " \
  "ARRAY[" S "]::bigint[])"
