// Every SQL statement of cjhub, named. Statements prepared on each connection are listed in
// kPrepared; the rest run through exec_params inside explicit transactions.
#pragma once

#include <utility>

namespace cjhub::store::sql {

// --- migrations -----------------------------------------------------------------------------
inline constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS cjhub_schema_migrations ("
    "  name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
// Tables of the hub's schema that hold data but have never been analyzed (a restored or
// bulk-loaded database), among those this role may analyze. Until autovacuum's first pass the
// planner would plan for empty tables (claims measured 26 ms instead of 1.5 ms).
inline constexpr const char* kUnanalyzedTables =
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.reltuples < 0 "
    "AND pg_relation_size(c.oid) > 0 AND pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname";
inline constexpr const char* kMigrationLock =
    "SELECT pg_advisory_xact_lock(hashtext('cjhub-migrate'))";
inline constexpr const char* kAppliedMigrations = "SELECT name FROM cjhub_schema_migrations";
inline constexpr const char* kRecordMigration =
    "INSERT INTO cjhub_schema_migrations (name) VALUES ($1)";
inline constexpr const char* kMigrationsTableExists =
    "SELECT to_regclass('cjhub_schema_migrations') IS NOT NULL";

// --- agencies --------------------------------------------------------------------------------
inline constexpr const char* kAgenciesLock =
    "SELECT pg_advisory_xact_lock(hashtext('cjhub-apply-agencies'))";
inline constexpr const char* kSelectAgencies =
    "SELECT ori, name, role, active FROM agencies ORDER BY ori";
inline constexpr const char* kSelectIdentities =
    "SELECT kind, value, ori FROM agency_identities ORDER BY ori, kind, value";
inline constexpr const char* kSelectPublish =
    "SELECT ori, message_type FROM agency_publish ORDER BY ori, message_type";
inline constexpr const char* kUpsertAgency =
    "INSERT INTO agencies (ori, name, role, active) VALUES ($1, $2, $3, true) "
    "ON CONFLICT (ori) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, active = true, "
    "updated_at = now()";
inline constexpr const char* kDisableAgency =
    "UPDATE agencies SET active = false, updated_at = now() WHERE ori = $1";
inline constexpr const char* kDeleteIdentities = "DELETE FROM agency_identities WHERE ori = $1";
// A disabled agency's identity may be given to another agency: release it first.
inline constexpr const char* kReleaseIdentity =
    "DELETE FROM agency_identities WHERE kind = $1 AND value = $2";
inline constexpr const char* kInsertIdentity =
    "INSERT INTO agency_identities (kind, value, ori) VALUES ($1, $2, $3)";
inline constexpr const char* kDeletePublish = "DELETE FROM agency_publish WHERE ori = $1";
inline constexpr const char* kInsertPublish =
    "INSERT INTO agency_publish (ori, message_type) VALUES ($1, $2)";
inline constexpr const char* kNotifyAgencies = "NOTIFY cjhub_agencies";
inline constexpr const char* kAgenciesChannel = "cjhub_agencies";

// --- messages (prepared: the ingest hot path) ------------------------------------------------
// Messages in one statement (one or many), stored (and numbered) in the order given; bodies and
// hashes as binary bytea[] parameters. Returns the ids inserted (the others were duplicates or conflicts).
inline constexpr const char* kInsertMessagesName = "insert_messages";
inline constexpr const char* kInsertMessages =
    "INSERT INTO messages (id, message_type, sender_ori, idempotency_key, document_id, case_key, "
    "origin_ori, jurisdiction, erasure, body, body_sha256, body_size, received_at) "
    "SELECT u.id, u.message_type, u.sender_ori, u.idempotency_key, u.document_id, u.case_key, u.origin_ori, "
    "u.jurisdiction, u.erasure, u.body, u.body_sha256, u.body_size, u.received_at "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::boolean[], $10::bytea[], $11::bytea[], $12::integer[], $13::timestamptz[]) WITH ORDINALITY "
    "AS u(id, message_type, sender_ori, idempotency_key, document_id, case_key, origin_ori, jurisdiction, erasure, "
    "body, body_sha256, body_size, received_at, n) ORDER BY u.n "
    "ON CONFLICT ON CONSTRAINT messages_idempotency DO NOTHING RETURNING id::text";
inline constexpr const char* kFindByIdempotencyName = "find_by_idempotency";
inline constexpr const char* kFindByIdempotency =
    "SELECT id::text, message_type, body_sha256, "
    "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    "FROM messages WHERE sender_ori = $1 AND idempotency_key = $2";
inline constexpr const char* kSelectMessageName = "select_message";
inline constexpr const char* kSelectMessage =
    "SELECT id::text, message_type, sender_ori, idempotency_key, document_id, case_key, "
    "origin_ori, jurisdiction, erasure, body_size, encode(body_sha256, 'hex'), "
    "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "body IS NULL "
    "FROM messages WHERE id = $1::uuid";

// --- endpoints and subscriptions (cjhub apply) ------------------------------------------------
inline constexpr const char* kSelectEndpoints =
    "SELECT ori, name, url, max_in_flight, timeout_ms FROM endpoints WHERE active ORDER BY ori, name";
inline constexpr const char* kSelectSubscriptions =
    "SELECT s.ori, s.name, e.name, array_to_json(s.message_types)::text, "
    "coalesce(array_to_json(s.origin_oris)::text, '[]'), coalesce(array_to_json(s.jurisdictions)::text, '[]'), "
    "s.own_cases_only, s.ack_required, (extract(epoch FROM s.retry_window) / 3600)::integer "
    "FROM subscriptions s JOIN endpoints e ON e.id = s.endpoint_id WHERE s.active ORDER BY s.ori, s.name";
inline constexpr const char* kUpsertEndpoint =
    "INSERT INTO endpoints (ori, name, url, max_in_flight, timeout_ms, active) "
    "VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (ori, name) DO UPDATE SET url = EXCLUDED.url, "
    "max_in_flight = EXCLUDED.max_in_flight, timeout_ms = EXCLUDED.timeout_ms, active = true "
    "RETURNING id";
inline constexpr const char* kDeactivateEndpoints =
    "UPDATE endpoints SET active = false WHERE ori = $1 AND active AND NOT (name = ANY ($2::text[])) RETURNING id";
// What a retired endpoint had not yet received becomes a dead letter (visible, replayable once
// the agency has an endpoint again) instead of waiting for ever.
inline constexpr const char* kRetireEndpointDeliveries =
    "UPDATE deliveries SET state = 'dead', dead_at = now(), lease_until = NULL, leased_by = NULL, "
    "last_error = 'endpoint removed from the agencies file' "
    "WHERE endpoint_id = ANY ($1::bigint[]) AND state IN ('queued', 'pending')";
inline constexpr const char* kUpsertSubscription =
    "INSERT INTO subscriptions (ori, name, endpoint_id, message_types, origin_oris, jurisdictions, "
    "own_cases_only, ack_required, retry_window, active) "
    "VALUES ($1, $2, $3, $4::text[], $5::text[], $6::text[], $7, $8::boolean, make_interval(hours => $9), true) "
    "ON CONFLICT (ori, name) DO UPDATE SET endpoint_id = EXCLUDED.endpoint_id, "
    "message_types = EXCLUDED.message_types, origin_oris = EXCLUDED.origin_oris, "
    "jurisdictions = EXCLUDED.jurisdictions, own_cases_only = EXCLUDED.own_cases_only, "
    "ack_required = EXCLUDED.ack_required, retry_window = EXCLUDED.retry_window, active = true";
inline constexpr const char* kDeactivateSubscriptions =
    "UPDATE subscriptions SET active = false WHERE ori = $1 AND active AND NOT (name = ANY ($2::text[]))";

// --- routing (inside the ingest transaction) ---------------------------------------------------
// Deliveries of one case to one endpoint leave in store order: writers and completions that touch
// a case's lanes hold this lock (hash of the case key) until they commit.
inline constexpr const char* kLockCase = "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))";
// The same for many cases in one round trip, in the given (sorted) order.
inline constexpr const char* kLockCases =
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 7)) FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) "
    "ORDER BY n";
// Many deliveries delivered at once ($1 ids, $2 HTTP statuses), each with the acknowledgement the
// recipient returned in its answer, if any ($3 status, $4 reason, $5 the acknowledgement's message
// id; NULL when none): state, delivery and acknowledgement written by one update. A delivery whose
// lease was lost is not written unless it carries an acknowledgement (which settles it anyway,
// unless it was suppressed). Returns the rows written with the lanes they free.
inline constexpr const char* kMarkDeliveredManyName = "mark_delivered_many";
inline constexpr const char* kMarkDeliveredMany =
    "UPDATE deliveries d SET "
    // An acknowledgement that came before the delivery (recorded, the delivery still sent) counts.
    "state = CASE WHEN coalesce(u.ack_status, d.ack_status) IS NULL THEN 'delivered' "
    "        WHEN coalesce(u.ack_status, d.ack_status) = 'rejected' THEN 'rejected' ELSE 'acknowledged' END, "
    "delivered_at = CASE WHEN d.state IN ('in_flight', 'pending') THEN now() ELSE coalesce(d.delivered_at, now()) END, "
    "last_status = CASE WHEN d.state IN ('in_flight', 'pending') THEN u.status ELSE d.last_status END, "
    "last_error = CASE WHEN d.state IN ('in_flight', 'pending') THEN NULL ELSE d.last_error END, "
    "ack_status = coalesce(u.ack_status, d.ack_status), "
    "ack_reason = CASE WHEN u.ack_status IS NULL THEN d.ack_reason ELSE u.ack_reason END, "
    "ack_message_id = coalesce(u.ack_message_id, d.ack_message_id), "
    "acknowledged_at = CASE WHEN u.ack_status IS NULL THEN d.acknowledged_at ELSE now() END, "
    "lease_until = NULL, leased_by = NULL "
    "FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::uuid[]) "
    "  AS u(id, status, ack_status, ack_reason, ack_message_id) "
    "WHERE d.id = u.id AND (d.state IN ('in_flight', 'pending') OR (u.ack_status IS NOT NULL AND d.state <> 'suppressed')) "
    "RETURNING d.id::text, d.endpoint_id, d.case_key, d.state";
// Promotes the next queued delivery of many lanes ($1 endpoint ids, $2 case keys) at once.
inline constexpr const char* kPromoteLanes =
    "UPDATE deliveries d SET state = 'pending', next_attempt_at = now() FROM ("
    "  SELECT (SELECT q.id FROM deliveries q WHERE q.endpoint_id = l.endpoint_id AND q.case_key = l.case_key "
    "          AND q.state = 'queued' ORDER BY q.seq LIMIT 1) AS id "
    "  FROM unnest($1::bigint[], $2::text[]) AS l(endpoint_id, case_key) "
    "  WHERE NOT EXISTS (SELECT 1 FROM deliveries b WHERE b.endpoint_id = l.endpoint_id AND b.case_key = l.case_key "
    "                    AND b.state IN ('pending', 'in_flight'))) n "
    "WHERE d.id = n.id";
// One delivery per matching endpoint of each message ($1.. arrays, in storing order; one message
// or a group's many). A lane's first delivery is pending only if the lane has nothing open; the
// later ones of the same statement queue behind it (row_number), in store order.
inline constexpr const char* kRouteMessagesName = "route_messages";
inline constexpr const char* kRouteMessages =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, "
    "seq, state, ack_required, next_attempt_at, expires_at) "
    "SELECT cjhub_uuid_v7(), r.id, r.subscription_id, r.endpoint_id, r.ori, r.case_key, r.seq, "
    "CASE WHEN r.case_key IS NOT NULL AND (row_number() OVER (PARTITION BY r.endpoint_id, r.case_key ORDER BY r.n) > 1 "
    "  OR EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = r.endpoint_id "
    "  AND p.case_key = r.case_key AND p.state IN ('queued', 'pending', 'in_flight'))) "
    "THEN 'queued' ELSE 'pending' END, r.ack_required, now(), now() + r.retry_window "
    "FROM (SELECT u.n, u.id, u.case_key, m.seq, s.endpoint_id, min(s.id) AS subscription_id, min(s.ori) AS ori, "
    "        bool_or(coalesce(s.ack_required, u.ack_required)) AS ack_required, max(s.retry_window) AS retry_window "
    "      FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[]) "
    "        WITH ORDINALITY AS u(id, type, sender, origin, case_key, jurisdiction, ack_required, n) "
    "      JOIN messages m ON m.id = u.id "
    "      JOIN subscriptions s ON s.active AND u.type = ANY (s.message_types) AND s.ori <> u.sender "
    "        AND (s.origin_oris IS NULL OR u.origin = ANY (s.origin_oris)) "
    "        AND (s.jurisdictions IS NULL OR u.jurisdiction = ANY (s.jurisdictions)) "
    "        AND (NOT s.own_cases_only OR (u.case_key IS NOT NULL AND EXISTS "
    "          (SELECT 1 FROM messages o WHERE o.case_key = u.case_key AND o.origin_ori = s.ori AND o.seq <= m.seq))) "
    "      JOIN endpoints e ON e.id = s.endpoint_id AND e.active "
    "      JOIN agencies a ON a.ori = s.ori AND a.active "
    "      GROUP BY u.n, u.id, u.case_key, m.seq, s.endpoint_id) r";
// Acknowledgements go back to their original senders, through their subscriptions to the type
// ($1 the acknowledgements' message ids, $2 original senders, $3 types; one or many).
inline constexpr const char* kRouteReceiptsName = "route_receipts";
inline constexpr const char* kRouteReceipts =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, "
    "seq, state, ack_required, next_attempt_at, expires_at) "
    "SELECT cjhub_uuid_v7(), u.id, min(s.id), s.endpoint_id, min(s.ori), NULL, "
    "(SELECT seq FROM messages WHERE id = u.id), 'pending', false, now(), now() + max(s.retry_window) "
    "FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, sender, type) "
    "JOIN subscriptions s ON s.active AND s.ori = u.sender AND u.type = ANY (s.message_types) "
    "JOIN endpoints e ON e.id = s.endpoint_id AND e.active "
    "JOIN agencies a ON a.ori = s.ori AND a.active "
    "GROUP BY u.id, s.endpoint_id";
inline constexpr const char* kNotifyDeliveries = "NOTIFY cjhub_deliveries";
inline constexpr const char* kDeliveriesChannel = "cjhub_deliveries";

// --- acknowledgements -------------------------------------------------------------------------
// The delivery of the referenced message addressed to the acknowledging agency.
inline constexpr const char* kAckTargetById =
    "SELECT d.id::text, d.endpoint_id, d.case_key, m.sender_ori FROM deliveries d "
    "JOIN messages m ON m.id = d.message_id "
    "WHERE m.id = $1::uuid AND d.recipient_ori = $2 ORDER BY d.created_at DESC LIMIT 1 FOR UPDATE OF d";
inline constexpr const char* kAckTargetByDocument =
    "SELECT d.id::text, d.endpoint_id, d.case_key, m.sender_ori FROM deliveries d "
    "JOIN messages m ON m.id = d.message_id "
    "WHERE m.document_id = $1 AND d.recipient_ori = $2 ORDER BY d.created_at DESC LIMIT 1 FOR UPDATE OF d";
inline constexpr const char* kAckTargetCaseById =
    "SELECT d.case_key FROM deliveries d WHERE d.message_id = $1::uuid AND d.recipient_ori = $2 "
    "ORDER BY d.created_at DESC LIMIT 1";
inline constexpr const char* kAckTargetCaseByDocument =
    "SELECT d.case_key FROM deliveries d JOIN messages m ON m.id = d.message_id "
    "WHERE m.document_id = $1 AND d.recipient_ori = $2 ORDER BY d.created_at DESC LIMIT 1";
inline constexpr const char* kMessageExistsById = "SELECT count(*) FROM messages WHERE id = $1::uuid";
inline constexpr const char* kMessageExistsByDocument =
    "SELECT count(*) FROM messages WHERE document_id = $1";
// An acknowledgement of a delivery that was never attempted (queued or pending, no attempt) is
// recorded, but the delivery is still sent: an agency cannot confirm away a notice it never got.
// Otherwise (attempted: the bytes may have arrived even if no answer did) it finishes the delivery.
inline constexpr const char* kApplyAck =
    "UPDATE deliveries SET ack_status = $2, ack_reason = $3, ack_message_id = $4::uuid, acknowledged_at = now(), "
    "state = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN state "
    "             WHEN $2 = 'rejected' THEN 'rejected' ELSE 'acknowledged' END, "
    "delivered_at = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN delivered_at "
    "                    ELSE coalesce(delivered_at, now()) END, "
    "lease_until = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN lease_until END, "
    "leased_by = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN leased_by END "
    "WHERE id = $1::uuid AND state <> 'suppressed'";

// --- dispatch ---------------------------------------------------------------------------------
inline constexpr const char* kLoadEndpoints =
    "SELECT id, ori, name, url, max_in_flight, timeout_ms, paused FROM endpoints WHERE active ORDER BY id";
// A claim need not wait for its commit to reach disk: if the database loses it in a crash, the
// deliveries are simply due again (and may be sent twice, under the same delivery id, which
// at-least-once delivery allows).
inline constexpr const char* kClaimAsyncCommit = "SET LOCAL synchronous_commit = off";
// Claims due deliveries: for each endpoint ($1) at most its free capacity ($2), leased for $3 ms.
inline constexpr const char* kClaimName = "claim_deliveries";
inline constexpr const char* kClaim =
    "WITH cap AS (SELECT c.*, CASE WHEN c.after_us > 0 THEN to_timestamp(c.after_us / 1000000.0) "
    "  ELSE '-infinity'::timestamptz END AS due_after "
    "  FROM unnest($1::bigint[], $2::integer[], $3::integer[], $5::bigint[]) AS c(endpoint_id, n, lease_ms, after_us)), "
    "picked AS (SELECT x.id FROM cap "
    "  JOIN endpoints e ON e.id = cap.endpoint_id AND e.active AND NOT e.paused CROSS JOIN LATERAL ("
    "  SELECT d.id FROM deliveries d WHERE d.endpoint_id = cap.endpoint_id AND d.state = 'pending' "
    "  AND d.next_attempt_at <= now() AND d.next_attempt_at >= cap.due_after "
    "  ORDER BY d.next_attempt_at LIMIT cap.n "
    "  FOR UPDATE OF d SKIP LOCKED) x), "
    // By primary key: a join with `picked` would be planned for its (over-)estimated size.
    "claimed AS (UPDATE deliveries d SET state = 'in_flight', attempts = d.attempts + 1, "
    "lease_until = now() + make_interval(secs => (SELECT c.lease_ms FROM cap c WHERE c.endpoint_id = d.endpoint_id) "
    "/ 1000.0), leased_by = $4 "
    "FROM messages m WHERE d.id = ANY (ARRAY(SELECT id FROM picked)) AND m.id = d.message_id "
    "RETURNING d.id::text AS id, d.message_id, d.endpoint_id, d.attempts, d.case_key, d.ack_required, "
    "m.message_type, m.sender_ori, m.body, d.recipient_ori, (extract(epoch FROM d.next_attempt_at) * 1000000)::bigint AS due_us), "
    // The agency holds the case from the first attempt on (the bytes may arrive even if the answer
    // is lost): erasures are routed from case_holders, which retention never prunes.
    "held AS (INSERT INTO case_holders (case_key, recipient_ori, endpoint_id, first_message_id) "
    "  SELECT DISTINCT ON (c.case_key, c.recipient_ori) c.case_key, c.recipient_ori, c.endpoint_id, c.message_id "
    "  FROM claimed c WHERE c.case_key IS NOT NULL ORDER BY c.case_key, c.recipient_ori "
    "  ON CONFLICT (case_key, recipient_ori) DO NOTHING) "
    "SELECT id, message_id::text, endpoint_id, attempts, case_key, ack_required, message_type, sender_ori, body, "
    "recipient_ori, due_us FROM claimed";
// Schedules the next attempt, or makes the delivery dead when that would fall after its window.
inline constexpr const char* kMarkRetryName = "mark_retry";
inline constexpr const char* kMarkRetry =
    "UPDATE deliveries SET "
    "state = CASE WHEN now() + make_interval(secs => $4 / 1000.0) > expires_at THEN 'dead' ELSE 'pending' END, "
    "dead_at = CASE WHEN now() + make_interval(secs => $4 / 1000.0) > expires_at THEN now() END, "
    "next_attempt_at = now() + make_interval(secs => $4 / 1000.0), last_status = $2::integer, last_error = $3, "
    "lease_until = NULL, leased_by = NULL WHERE id = $1::uuid AND state = 'in_flight' AND leased_by = $5 "
    "RETURNING state, endpoint_id, case_key";
inline constexpr const char* kMarkDeadName = "mark_dead";
inline constexpr const char* kMarkDead =
    "UPDATE deliveries SET state = 'dead', dead_at = now(), last_status = $2::integer, last_error = $3, "
    "lease_until = NULL, leased_by = NULL WHERE id = $1::uuid AND state = 'in_flight' AND leased_by = $4 "
    "RETURNING endpoint_id, case_key";
// Body gone (erased): never send it. Like every verdict but a success, only under the lease that
// claimed it: a hub whose lease ran out cannot undo what the hub that took over has done.
inline constexpr const char* kMarkSuppressed =
    "UPDATE deliveries SET state = 'suppressed', lease_until = NULL, leased_by = NULL "
    "WHERE id = $1::uuid AND state = 'in_flight' AND leased_by = $2 RETURNING endpoint_id, case_key";
// The next queued delivery of a lane becomes pending once nothing earlier is pending or in flight.
inline constexpr const char* kPromoteLane =
    "UPDATE deliveries SET state = 'pending', next_attempt_at = now() "
    "WHERE id = (SELECT id FROM deliveries WHERE endpoint_id = $1 AND case_key = $2 AND state = 'queued' "
    "            ORDER BY seq LIMIT 1) "
    "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = $1 AND case_key = $2 "
    "                AND state IN ('pending', 'in_flight'))";
// Resets the failure count; last_success_at moves at most once a second, so a busy endpoint's row
// is not rewritten by every completion batch (each rewrite is a dead version until vacuumed).
inline constexpr const char* kEndpointSuccess =
    "UPDATE endpoints SET consecutive_failures = 0, last_success_at = now() WHERE id = $1 "
    "AND (consecutive_failures <> 0 OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')";
// Counts a failure; pauses the endpoint when the count reaches $2. Returns the new count.
inline constexpr const char* kEndpointFailure =
    "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, last_failure_at = now(), "
    "paused_at = CASE WHEN NOT paused AND consecutive_failures + 1 >= $2 THEN now() ELSE paused_at END, "
    "paused_reason = CASE WHEN NOT paused AND consecutive_failures + 1 >= $2 THEN $3 ELSE paused_reason END, "
    "paused = paused OR consecutive_failures + 1 >= $2 "
    "WHERE id = $1 RETURNING consecutive_failures, paused";
inline constexpr const char* kReleaseExpiredLeases =
    "UPDATE deliveries SET state = 'pending', lease_until = NULL, leased_by = NULL "
    "WHERE state = 'in_flight' AND lease_until < now() RETURNING id";
inline constexpr const char* kReleaseLeasesOf =
    "UPDATE deliveries SET state = 'pending', lease_until = NULL, leased_by = NULL, "
    "attempts = greatest(attempts - 1, 0) WHERE state = 'in_flight' AND leased_by = $1 RETURNING id";

// --- status and operations --------------------------------------------------------------------
inline constexpr const char* kDeliveriesOfMessageName = "deliveries_of_message";
inline constexpr const char* kDeliveriesOfMessage =
    "SELECT d.id::text, d.recipient_ori, e.name, d.state, d.attempts, d.last_status, d.last_error, "
    "to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(d.acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "d.ack_status, d.ack_reason, d.ack_required, "
    "to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id WHERE d.message_id = $1::uuid "
    "ORDER BY d.recipient_ori, e.name";
// Dead letters by delivery id ($1), agency ($2), endpoint name ($3), dead between $4 and $5.
inline constexpr const char* kDeadFilter =
    "d.state = 'dead' AND ($1::uuid IS NULL OR d.id = $1::uuid) AND ($2::text IS NULL OR e.ori = $2) "
    "AND ($3::text IS NULL OR e.name = $3) AND ($4::timestamptz IS NULL OR d.dead_at >= $4::timestamptz) "
    "AND ($5::timestamptz IS NULL OR d.dead_at < $5::timestamptz)";
inline constexpr const char* kListDeadPrefix =
    "SELECT d.id::text, d.message_id::text, m.message_type, d.recipient_ori, e.name, d.attempts, "
    "d.last_status, d.last_error, to_char(d.dead_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "d.case_key FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id JOIN messages m ON m.id = d.message_id WHERE ";
inline constexpr const char* kListDeadSuffix = " ORDER BY d.dead_at, d.seq LIMIT $6";
// Replayed dead letters re-enter their lane behind what is already there.
inline constexpr const char* kReplayPrefix =
    "UPDATE deliveries d SET state = CASE WHEN d.case_key IS NULL THEN 'pending' ELSE 'queued' END, "
    "attempts = 0, next_attempt_at = now(), dead_at = NULL, "
    "expires_at = now() + coalesce((SELECT retry_window FROM subscriptions s WHERE s.id = d.subscription_id), "
    "interval '72 hours'), "
    "last_error = 'replayed after: ' || coalesce(d.last_error, '') FROM endpoints e WHERE e.id = d.endpoint_id AND ";
inline constexpr const char* kReplaySuffix = " RETURNING d.id::text, d.endpoint_id, d.case_key";
inline constexpr const char* kSetEndpointPaused =
    "UPDATE endpoints SET paused = $3, paused_at = CASE WHEN $3 THEN now() END, "
    "paused_reason = CASE WHEN $3 THEN $4 END, consecutive_failures = 0 "
    "WHERE ori = $1 AND name = $2 AND active RETURNING id";
inline constexpr const char* kEndpointStatus =
    "SELECT e.ori, e.name, e.url, e.paused, e.paused_reason, e.consecutive_failures, "
    "(SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.state IN ('queued', 'pending', 'in_flight')), "
    "(SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.state = 'dead') "
    "FROM endpoints e WHERE e.active ORDER BY e.ori, e.name";

// --- erasure (inside the ingest transaction) ----------------------------------------------------
inline constexpr const char* kErasedAmong = "SELECT case_key FROM erased_cases WHERE case_key = ANY ($1::text[])";
// A message about a case already erased as a whole, accepted under `later_messages: accept`: kept
// as a record (id, type, sender, times, SHA-256) without its content, and routed nowhere.
inline constexpr const char* kRedactOnArrival =
    "UPDATE messages SET body = NULL, redacted_at = now() WHERE id = $1::uuid";
// A whole-case erasure in one statement ($1 case, $2 the erasure's message id, $3 requested by,
// $4 received at, $5 and $6 deadline and follow-up in seconds): every other message of the case
// loses its payload (id, type, sender, times and SHA-256 stay; earlier erasure notices keep theirs,
// they are still owed to recipients who have not confirmed); undelivered deliveries of the case are
// suppressed (those in flight finish first, so the notice cannot overtake a message on the wire;
// earlier erasure notices keep going, except the ones of charge-level erasures, which this one
// covers and supersedes); the erasure is recorded with its counts and the case marked erased.
// Returns the numbers of payloads removed and deliveries suppressed.
inline constexpr const char* kEraseCaseName = "erase_case";
inline constexpr const char* kEraseCase =
    "WITH redacted AS ("
    "  UPDATE messages SET body = NULL, redacted_at = now() "
    "  WHERE case_key = $1 AND id <> $2::uuid AND body IS NOT NULL AND NOT erasure RETURNING 1), "
    "suppressed AS ("
    "  UPDATE deliveries d SET state = 'suppressed' "
    "  WHERE d.case_key = $1 AND d.message_id <> $2::uuid AND d.state IN ('queued', 'pending') "
    "  AND (d.erasure_id IS NULL OR EXISTS (SELECT 1 FROM erasures c WHERE c.id = d.erasure_id AND c.scope = 'charges' "
    "       AND c.superseded_by IS NULL)) RETURNING 1), "
    "recorded AS ("
    "  INSERT INTO erasures (id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, "
    "  redacted_messages, suppressed_deliveries) VALUES ($2::uuid, $1, 'case', $3, $4::timestamptz, "
    "  $4::timestamptz + make_interval(secs => $5), $4::timestamptz + make_interval(secs => $6), "
    "  (SELECT count(*) FROM redacted), (SELECT count(*) FROM suppressed)) RETURNING id), "
    "superseded AS ("
    "  UPDATE erasures SET superseded_by = $2::uuid WHERE case_key = $1 AND scope = 'charges' AND id <> $2::uuid "
    "  AND superseded_by IS NULL RETURNING 1), "
    "marked AS (INSERT INTO erased_cases (case_key, erasure_id) VALUES ($1, $2::uuid) "
    "  ON CONFLICT (case_key) DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM redacted), (SELECT count(*) FROM suppressed), "
    "(SELECT count(*) FROM recorded), (SELECT count(*) FROM superseded), (SELECT count(*) FROM marked)";
// After suppression, every lane of the case whose head is gone lets its next delivery go.
inline constexpr const char* kPromoteCaseLanesName = "promote_case_lanes";
inline constexpr const char* kPromoteCaseLanes =
    "UPDATE deliveries d SET state = 'pending', next_attempt_at = now() FROM ("
    "  SELECT DISTINCT ON (endpoint_id) id, endpoint_id FROM deliveries "
    "  WHERE case_key = $1 AND state = 'queued' ORDER BY endpoint_id, seq) h "
    "WHERE d.id = h.id AND NOT EXISTS (SELECT 1 FROM deliveries b WHERE b.case_key = $1 "
    "  AND b.endpoint_id = h.endpoint_id AND b.state IN ('pending', 'in_flight'))";
// A charge-level erasure is recorded (no payload is removed: the case stays open).
inline constexpr const char* kInsertErasureName = "insert_erasure";
inline constexpr const char* kInsertErasure =
    "INSERT INTO erasures (id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, "
    "redacted_messages, suppressed_deliveries) VALUES ($1::uuid, $2, $3, $4, $5::timestamptz, "
    "$5::timestamptz + make_interval(secs => $6), $5::timestamptz + make_interval(secs => $7), $8, $9)";
// One delivery with a required acknowledgement per recipient agency: the erasure's subscribers and
// every holder of the case (case_holders: every agency the hub ever sent a message of the case,
// whatever its subscriptions say now and however long ago), through an active endpoint of the
// holder (the one it was first sent to, if still active), else the endpoint it was first sent to
// (the notice then waits there, owed, visible in the ledger).
inline constexpr const char* kRouteErasureName = "route_erasure";
inline constexpr const char* kRouteErasure =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, "
    "state, ack_required, next_attempt_at, expires_at, erasure_id) "
    "SELECT cjhub_uuid_v7(), $1::uuid, c.subscription_id, c.endpoint_id, c.ori, $5::text, "
    "(SELECT seq FROM messages WHERE id = $1::uuid), "
    "CASE WHEN EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = c.endpoint_id AND p.case_key = $5::text "
    "  AND p.state IN ('queued', 'pending', 'in_flight')) THEN 'queued' ELSE 'pending' END, "
    "true, now(), now() + make_interval(secs => $8), $7::uuid "
    "FROM (SELECT DISTINCT ON (ori) ori, endpoint_id, subscription_id FROM ("
    "  SELECT s.ori, s.endpoint_id, s.id AS subscription_id, 1 AS pref FROM subscriptions s "
    "  JOIN endpoints e ON e.id = s.endpoint_id AND e.active JOIN agencies a ON a.ori = s.ori AND a.active "
    "  WHERE s.active AND $2::text = ANY (s.message_types) AND s.ori <> $3::text "
    "  AND (s.origin_oris IS NULL OR $4::text = ANY (s.origin_oris)) "
    "  AND (s.jurisdictions IS NULL OR $6::text = ANY (s.jurisdictions)) "
    "  AND (NOT s.own_cases_only OR EXISTS (SELECT 1 FROM messages o WHERE o.case_key = $5::text AND o.origin_ori = s.ori)) "
    "  UNION ALL "
    "  SELECT h.recipient_ori, coalesce((SELECT e2.id FROM endpoints e2 WHERE e2.ori = h.recipient_ori AND e2.active "
    "    ORDER BY e2.id = h.endpoint_id DESC, e2.id LIMIT 1), h.endpoint_id), NULL::bigint, 2 "
    "  FROM case_holders h WHERE h.case_key = $5::text AND h.recipient_ori <> $3::text"
    ") candidates ORDER BY ori, pref, endpoint_id) c";

// --- the erasure ledger -------------------------------------------------------------------------
// Per erasure: counts of recipients, confirmations and overdue ones, and a status:
// complete (every recipient confirmed deletion), overdue (past the deadline without), open.
inline constexpr const char* kErasureSummary =
    "SELECT * FROM (SELECT x.id::text AS id, x.case_key, x.scope, x.requested_by, "
    "to_char(x.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS received, "
    "to_char(x.deadline_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS deadline, "
    "to_char(x.follow_up_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS follow_up, "
    "x.redacted_messages, x.suppressed_deliveries, count(d.id) AS recipients, "
    "count(d.delivered_at) AS delivered, count(d.acknowledged_at) AS acknowledged, "
    "count(d.id) FILTER (WHERE d.ack_status = 'completed' AND d.attempts > 0) AS confirmed, "
    "count(d.id) FILTER (WHERE d.state = 'rejected') AS rejected, "
    "count(d.id) FILTER (WHERE (d.ack_status IS DISTINCT FROM 'completed' OR d.attempts = 0) AND now() > x.deadline_at "
    "                    AND x.superseded_by IS NULL) AS overdue, "
    "CASE WHEN x.superseded_by IS NOT NULL THEN 'superseded' "
    "     WHEN count(d.id) FILTER (WHERE (d.ack_status IS DISTINCT FROM 'completed' OR d.attempts = 0)) = 0 THEN 'complete' "
    "     WHEN now() > x.deadline_at THEN 'overdue' ELSE 'open' END AS status, "
    "x.received_at AS sort_at "
    "FROM erasures x LEFT JOIN deliveries d ON d.message_id = x.id AND d.erasure_id = x.id "
    "WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM deliveries d2 WHERE d2.message_id = x.id AND d2.erasure_id = x.id "
    "AND d2.recipient_ori = $1)) "
    "AND ($2::timestamptz IS NULL OR x.received_at >= $2::timestamptz) "
    "AND ($3::timestamptz IS NULL OR x.received_at < $3::timestamptz) "
    "AND ($4::text IS NULL OR x.requested_by = $4) "
    "AND ($5::uuid IS NULL OR x.id = $5::uuid) "
    "AND ($6::timestamptz IS NULL OR (x.received_at, x.id) > ($6::timestamptz, $7::uuid)) "
    "GROUP BY x.id) t WHERE ($8::text IS NULL OR t.status = $8) ORDER BY t.sort_at, t.id LIMIT $9";
inline constexpr const char* kErasureRecipients =
    "SELECT d.recipient_ori, e.name, d.state, d.attempts, "
    "to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(d.acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "d.ack_status, d.ack_reason, d.last_error, d.id::text, "
    "((d.ack_status IS DISTINCT FROM 'completed' OR d.attempts = 0) AND now() > x.deadline_at AND x.superseded_by IS NULL), "
    "((d.ack_status IS DISTINCT FROM 'completed' OR d.attempts = 0) AND now() > x.follow_up_at AND x.superseded_by IS NULL), "
    "d.erasure_id::text "
    "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id JOIN erasures x ON x.id = d.erasure_id "
    "WHERE d.message_id = ANY ($1::uuid[]) AND d.erasure_id = d.message_id ORDER BY d.erasure_id, d.recipient_ori";

// --- metrics (gauges read at scrape time; labels are ORIs and endpoint names only) -------------
inline constexpr const char* kEndpointGauges =
    "SELECT e.ori, e.name, e.paused, coalesce(b.n, 0), coalesce(extract(epoch FROM now() - b.oldest), 0), "
    "coalesce(x.n, 0) FROM endpoints e "
    "LEFT JOIN (SELECT endpoint_id, count(*) AS n, min(created_at) AS oldest FROM deliveries "
    "           WHERE state IN ('queued', 'pending', 'in_flight') GROUP BY endpoint_id) b ON b.endpoint_id = e.id "
    "LEFT JOIN (SELECT endpoint_id, count(*) AS n FROM deliveries WHERE state = 'dead' GROUP BY endpoint_id) x "
    "       ON x.endpoint_id = e.id "
    "WHERE e.active ORDER BY e.ori, e.name";
inline constexpr const char* kErasureGauges =
    "SELECT d.recipient_ori, count(*) FILTER (WHERE now() <= x.deadline_at), count(*) FILTER (WHERE now() > x.deadline_at) "
    "FROM deliveries d JOIN erasures x ON x.id = d.erasure_id AND x.superseded_by IS NULL "
    "WHERE d.erasure_id IS NOT NULL AND (d.ack_status IS DISTINCT FROM 'completed' OR d.attempts = 0) AND d.state <> 'suppressed' "
    "GROUP BY d.recipient_ori "
    "ORDER BY d.recipient_ori";

// --- audit trail ---------------------------------------------------------------------------------
// Records written by the transaction they describe ($1..$7 arrays: actor, ori, action, outcome,
// object, source, detail).
inline constexpr const char* kInsertAuditName = "insert_audit";
inline constexpr const char* kInsertAudit =
    "INSERT INTO audit_log (actor, ori, action, outcome, object, source, detail) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])";
// One sealer at a time, across every hub on the database.
inline constexpr const char* kAuditSealLock = "SELECT pg_try_advisory_xact_lock(hashtext('cjhub-audit-seal'))";
// Every transaction below this id has finished: none of them can still add a record.
inline constexpr const char* kAuditHorizon = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text";
// The chain before blocks (records sealed one by one before migration 0012): its head and anchor.
inline constexpr const char* kAuditHead =
    "SELECT chain_seq, encode(hash, 'hex') FROM audit_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1";
inline constexpr const char* kAuditAnchor =
    "SELECT chain_seq, encode(hash, 'hex') FROM audit_anchor ORDER BY chain_seq DESC LIMIT 1";
// The last block (number, next position, transaction bound, hash), and the blocks' anchor.
inline constexpr const char* kAuditLastBlock =
    "SELECT block_seq, first_pos + cardinality(ids), xid_to::text, encode(hash, 'hex') FROM audit_blocks "
    "ORDER BY block_seq DESC LIMIT 1";
inline constexpr const char* kAuditBlockAnchor =
    "SELECT block_seq, next_pos, xid_to::text, encode(hash, 'hex') FROM audit_block_anchor "
    "ORDER BY block_seq DESC LIMIT 1";
// The fields a record's hash covers, in a fixed order (time in microseconds since the epoch).
#define CJHUB_AUDIT_FIELDS \
  "id, (extract(epoch FROM at) * 1000000)::bigint, actor, ori, action, outcome, object, source, detail"
// Records of the transactions in [$1, $2), in chain order, at most $3.
inline constexpr const char* kAuditToSeal =
    "SELECT " CJHUB_AUDIT_FIELDS ", xid::text FROM audit_log WHERE xid >= $1::xid8 AND xid < $2::xid8 "
    "ORDER BY xid, id LIMIT $3";
// Records written before migration 0012 and never sealed: the first block's.
inline constexpr const char* kAuditLegacyUnsealed =
    "SELECT " CJHUB_AUDIT_FIELDS ", '' FROM audit_log WHERE xid IS NULL AND chain_seq IS NULL ORDER BY id";
// $1 block, $2 first position, $3 ids, $4 record hashes (hex), $5 transaction bound, $6 previous
// block's hash (hex), $7 this block's hash (hex).
inline constexpr const char* kAuditInsertBlock =
    "INSERT INTO audit_blocks (block_seq, first_pos, ids, hashes, xid_to, prev_hash, hash) "
    "SELECT $1, $2, $3::bigint[], array(SELECT decode(h, 'hex') FROM unnest($4::text[]) WITH ORDINALITY u(h, o) "
    "ORDER BY o), $5::xid8, decode($6, 'hex'), decode($7, 'hex')";
// The chain before blocks in order, a page at a time (after position $1).
inline constexpr const char* kAuditChainPage =
    "SELECT " CJHUB_AUDIT_FIELDS ", chain_seq, encode(prev_hash, 'hex'), encode(hash, 'hex') "
    "FROM audit_log WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2";
// Blocks in order after block $1, $2 at a time: number, first position, ids, record hashes (hex),
// transaction bound, previous hash, hash.
inline constexpr const char* kAuditBlockPage =
    "SELECT block_seq, first_pos, array_to_string(ids, ','), "
    "(SELECT string_agg(encode(h, 'hex'), ',' ORDER BY o) FROM unnest(hashes) WITH ORDINALITY u(h, o)), "
    "xid_to::text, encode(prev_hash, 'hex'), encode(hash, 'hex') "
    "FROM audit_blocks WHERE block_seq > $1 ORDER BY block_seq LIMIT $2";
inline constexpr const char* kAuditRecordsByIds =
    "SELECT " CJHUB_AUDIT_FIELDS ", xid IS NOT NULL FROM audit_log WHERE id = ANY ($1::bigint[])";
// How many records the transactions in [$1, $2) have (a block sealing that range lists them all).
inline constexpr const char* kAuditCountInRange =
    "SELECT count(*) FROM audit_log WHERE xid >= $1::xid8 AND xid < $2::xid8";
// Records of transactions in [$1, $2) that a block sealing that range does not list: added later.
inline constexpr const char* kAuditAddedAfterSealing =
    "SELECT id FROM audit_log WHERE xid >= $1::xid8 AND xid < $2::xid8 AND NOT (id = ANY ($3::bigint[])) "
    "ORDER BY id LIMIT 10";
// Records in no block yet (their transactions at or after $2, or from before migration 0012 when
// there is no block, $3), received more than $1 seconds ago.
inline constexpr const char* kAuditUnsealedOlderThan =
    "SELECT count(*) FROM audit_log WHERE at < now() - make_interval(secs => $1) "
    "AND (xid >= $2::xid8 OR ($3 AND xid IS NULL AND chain_seq IS NULL))";
// Records received between $1 and $2 (NULL: open), after id $3, in id order, each with its chain
// position and hash (from its block; sealed before blocks: its own; NULL while unsealed).
inline constexpr const char* kAuditExportPage =
    "SELECT a.id, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.actor, a.ori, a.action, "
    "a.outcome, a.object, a.source, a.detail, coalesce(a.chain_seq, b.pos), coalesce(encode(a.hash, 'hex'), b.hash) "
    "FROM audit_log a LEFT JOIN LATERAL ("
    "  SELECT k.first_pos + k.i - 1 AS pos, encode(k.hashes[k.i], 'hex') AS hash FROM ("
    "    SELECT first_pos, hashes, array_position(ids, a.id) AS i FROM audit_blocks "
    "    WHERE a.chain_seq IS NULL AND (a.xid IS NULL OR xid_to > a.xid) ORDER BY xid_to LIMIT 1) k "
    "  WHERE k.i IS NOT NULL) b ON true "
    "WHERE ($1::timestamptz IS NULL OR a.at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR a.at < $2::timestamptz) "
    "AND a.id > $3 ORDER BY a.id LIMIT $4";
#undef CJHUB_AUDIT_FIELDS
// Retention before blocks removes the oldest records of that chain, a prefix that ends before the
// first record kept ($1 the cut-off time) and never includes its head.
inline constexpr const char* kAuditFirstKept =
    "SELECT coalesce((SELECT chain_seq FROM audit_log WHERE chain_seq IS NOT NULL AND at >= $1::timestamptz "
    "ORDER BY chain_seq LIMIT 1), (SELECT max(chain_seq) FROM audit_log), 0)";
inline constexpr const char* kAuditHashAt = "SELECT encode(hash, 'hex') FROM audit_log WHERE chain_seq = $1";
inline constexpr const char* kAuditInsertAnchor =
    "INSERT INTO audit_anchor (chain_seq, hash) VALUES ($1, decode($2, 'hex')) ON CONFLICT (chain_seq) DO NOTHING";
inline constexpr const char* kAuditDeleteUpTo =
    "DELETE FROM audit_log WHERE chain_seq <= $1 AND chain_seq > $2";
// Retention of blocks: the oldest blocks (never the last) whose records were all received before
// $1, in order; a block with a newer record ends the prefix.
inline constexpr const char* kAuditOldBlocks =
    "SELECT b.block_seq, b.first_pos + cardinality(b.ids), b.xid_to::text, encode(b.hash, 'hex'), "
    "coalesce((SELECT max(a.at) < $1::timestamptz FROM audit_log a WHERE a.id = ANY (b.ids)), true) "
    "FROM audit_blocks b WHERE b.block_seq < (SELECT max(block_seq) FROM audit_blocks) ORDER BY b.block_seq LIMIT $2";
inline constexpr const char* kAuditInsertBlockAnchor =
    "INSERT INTO audit_block_anchor (block_seq, next_pos, xid_to, hash) VALUES ($1, $2, $3::xid8, decode($4, 'hex'))";
inline constexpr const char* kAuditDeleteBlockRecords =
    "DELETE FROM audit_log WHERE id IN (SELECT unnest(ids) FROM audit_blocks WHERE block_seq <= $1)";
inline constexpr const char* kAuditDeleteBlocks = "DELETE FROM audit_blocks WHERE block_seq <= $1";

// --- retention -------------------------------------------------------------------------------
// Payloads of messages received before $1 that nothing still needs: no delivery queued, pending,
// in flight or dead (a dead letter may be replayed), none delivered but owing an acknowledgement.
// At most $2 per call, oldest first.
inline constexpr const char* kPurgePayloads =
    "UPDATE messages m SET body = NULL, purged_at = now() WHERE m.id = ANY (ARRAY("
    "  SELECT c.id FROM messages c WHERE c.body IS NOT NULL AND c.received_at < $1::timestamptz "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = c.id "
    "    AND (d.state IN ('queued', 'pending', 'in_flight', 'dead') OR (d.ack_required AND d.state = 'delivered'))) "
    "  ORDER BY c.received_at LIMIT $2)) RETURNING m.id";
inline constexpr const char* kRetentionLock = "SELECT pg_try_advisory_lock(hashtext('cjhub-retention'))";
inline constexpr const char* kRetentionUnlock = "SELECT pg_advisory_unlock(hashtext('cjhub-retention'))";
inline constexpr const char* kRetentionCursor = "SELECT position::text FROM retention_cursors WHERE name = $1";
inline constexpr const char* kSetRetentionCursor =
    "INSERT INTO retention_cursors (name, position) VALUES ($1, $2::uuid) "
    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position";
// The next $3 deliveries after $1 (an id) created before $2 (time-ordered ids: a key range), and
// which of them are finished and not part of an erasure's ledger; those are deleted.
inline constexpr const char* kPruneDeliveries =
    "WITH span AS (SELECT d.id, d.state, d.erasure_id FROM deliveries d "
    "  WHERE d.id > $1::uuid AND d.id < encode(overlay(uuid_send('00000000-0000-7000-8000-000000000000'::uuid) "
    "    PLACING substring(int8send(floor(extract(epoch FROM $2::timestamptz) * 1000)::bigint) FROM 3) "
    "    FROM 1 FOR 6), 'hex')::uuid "
    "  ORDER BY d.id LIMIT $3), "
    "gone AS (DELETE FROM deliveries x USING span s WHERE x.id = s.id "
    "  AND s.state IN ('delivered', 'acknowledged', 'rejected', 'suppressed') AND s.erasure_id IS NULL RETURNING 1) "
    "SELECT (SELECT max(id::text) FROM span), (SELECT count(*) FROM span), (SELECT count(*) FROM gone)";

// Per active endpoint, cheaply enough to ask every few seconds under any backlog: whether paused,
// pending deliveries (counted up to 10,000) and the age of the oldest one due.
inline constexpr const char* kEndpointBacklogs =
    "SELECT e.ori, e.name, e.paused, "
    "(SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending' "
    "  LIMIT 10000) x), "
    "coalesce(extract(epoch FROM now() - (SELECT min(d.next_attempt_at) FROM deliveries d "
    "  WHERE d.endpoint_id = e.id AND d.state = 'pending' AND d.next_attempt_at <= now())), 0)::float8 "
    "FROM endpoints e WHERE e.active ORDER BY e.ori, e.name";

// --- health ----------------------------------------------------------------------------------
inline constexpr const char* kPing = "SELECT 1";
// Before a COMMIT whose success is promised to someone (a 202, a recorded acknowledgement): a
// COMMIT that waits for a synchronous standby and is cancelled by statement_timeout still returns
// success with only a warning, though the transaction may not have reached the standby.
inline constexpr const char* kNoTimeoutForCommit = "SET LOCAL statement_timeout = 0";

inline constexpr std::pair<const char*, const char*> kPrepared[] = {
    {kFindByIdempotencyName, kFindByIdempotency},
    {kSelectMessageName, kSelectMessage},
    {kRouteMessagesName, kRouteMessages},
    {kRouteReceiptsName, kRouteReceipts},
    {kInsertMessagesName, kInsertMessages},
    {kMarkDeliveredManyName, kMarkDeliveredMany},
    {kRouteErasureName, kRouteErasure},
    {kEraseCaseName, kEraseCase},
    {kInsertErasureName, kInsertErasure},
    {kPromoteCaseLanesName, kPromoteCaseLanes},
    {kClaimName, kClaim},
    {kMarkRetryName, kMarkRetry},
    {kMarkDeadName, kMarkDead},
    {kDeliveriesOfMessageName, kDeliveriesOfMessage},
    {kInsertAuditName, kInsertAudit},
};

}  // namespace cjhub::store::sql
