// A delivery's attempts, as its timeline shows them (migration 0021). Internal to the store.
//
// A row in `deliveries` keeps its latest CJHUB_ATTEMPTS_KEPT attempts in arrays, appended by the
// update that records each outcome (CJHUB_APPEND_ATTEMPT); the log's normal path keeps one
// `log_answers` row per endpoint and round. attempts_of reads both for one message.
#pragma once

#include <pqxx/pqxx>

#include <map>
#include <string>
#include <vector>

#include "cjhub/store/deliveries_repo.hpp"

#define CJHUB_ATTEMPTS_KEPT "20"
// SET clauses appending one attempt (SQL parameters or expressions: began, status, took_ms, error).
#define CJHUB_APPEND_ATTEMPT(AT, STATUS, MS, ERROR)                                                   \
  "attempt_at = cjhub_keep_last(attempt_at, " AT "::timestamptz, " CJHUB_ATTEMPTS_KEPT "), "          \
  "attempt_status = cjhub_keep_last(attempt_status, " STATUS "::integer, " CJHUB_ATTEMPTS_KEPT "), "  \
  "attempt_ms = cjhub_keep_last(attempt_ms, " MS "::integer, " CJHUB_ATTEMPTS_KEPT "), "              \
  "attempt_error = cjhub_keep_last(attempt_error, left(" ERROR "::text, 200), " CJHUB_ATTEMPTS_KEPT "), "

namespace cjhub::store {

// Every attempt of message `message_id`'s deliveries, by delivery id, oldest first.
std::map<std::string, std::vector<AttemptRecord>> attempts_of(pqxx::transaction_base& tx,
                                                              const std::string& message_id);

}  // namespace cjhub::store
