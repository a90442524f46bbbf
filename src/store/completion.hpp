// Recording the outcomes of deliveries that are rows, inside a caller's transaction: the body of
// store::complete, also used by the log's rounds for an entry whose answer carried an
// acknowledgement (it becomes a row first). Internal to the store.
#pragma once

#include "store/connection_impl.hpp"

#include <string>
#include <vector>

#include "cjhub/store/deliveries_repo.hpp"

namespace cjhub::store {

std::vector<CompletionResult> complete_in(Transaction& tx, const std::vector<Completion>& batch,
                                          const std::string& leased_by, unsigned pause_after_failures);

}  // namespace cjhub::store
