// A message's recipients and the state of each, as the sender's status page
// (`GET /v1/messages/{id}`) and the search (`GET /v1/messages`) show them. Internal to the store.
//
// A recipient is a row in `deliveries` (it owes an acknowledgement, or left the log: a retry, what
// waited behind it, a dead letter, a suppressed delivery) or an entry on the log (an endpoint in
// `messages.recipients` without a row for the message). A row's state is its own; an entry is
// `delivered` once it is finished (CJHUB_LOG_ENTRY_DONE, log_progress.hpp), else `pending`. That
// macro and the one below are the rule in SQL, for the statements that read the states and for the
// search's state filter, so that both say the same.
#pragma once

#include <pqxx/pqxx>

#include <string>
#include <utility>
#include <vector>

#include "cjhub/store/deliveries_repo.hpp"
#include "store/log_progress.hpp"

// Endpoint R.endpoint_id of message M has no row: its state is the log entry's.
#define CJHUB_LOG_ENTRY_HAS_NO_ROW(M, R) \
  "NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = " #M ".id AND x.endpoint_id = " #R ".endpoint_id)"

namespace cjhub::store {

// Every recipient of the messages `message_ids` (text UUIDs), rows and log entries, paired with its
// message's id; by message, then recipient agency and endpoint. Inside the caller's transaction.
std::vector<std::pair<std::string, DeliveryStatus>> recipients_of(pqxx::transaction_base& tx,
                                                                   const std::vector<std::string>& message_ids);

}  // namespace cjhub::store
