// Every SQL statement of cjhub, named. Statements prepared on each connection are listed in
// kPrepared; the rest run through exec_params inside explicit transactions.
#pragma once

#include <utility>

namespace cjhub::store::sql {

// --- migrations -----------------------------------------------------------------------------
inline constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS cjhub_schema_migrations ("
    "  name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
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
inline constexpr const char* kInsertMessageName = "insert_message";
inline constexpr const char* kInsertMessage =
    "INSERT INTO messages (id, message_type, sender_ori, idempotency_key, document_id, case_key, "
    "origin_ori, jurisdiction, erasure, body, body_sha256, body_size, received_at) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9::boolean, $10::bytea, $11::bytea, "
    "$12::integer, $13::timestamptz) "
    "ON CONFLICT ON CONSTRAINT messages_idempotency DO NOTHING";
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

// --- health ----------------------------------------------------------------------------------
inline constexpr const char* kPing = "SELECT 1";

inline constexpr std::pair<const char*, const char*> kPrepared[] = {
    {kInsertMessageName, kInsertMessage},
    {kFindByIdempotencyName, kFindByIdempotency},
    {kSelectMessageName, kSelectMessage},
};

}  // namespace cjhub::store::sql
