// The API's objects as JSON, one function each: the admin API, the ledger and the command line's
// --format json write the same fields from the same code (docs/openapi.yaml names them).
#pragma once

#include <boost/json/object.hpp>

#include "cjhub/store/erasures_repo.hpp"
#include "cjhub/store/operations_repo.hpp"

namespace cjhub::api {

// GET /v1/admin/dead-letters: one element of "dead_letters".
boost::json::object dead_letter_json(const store::DeadLetter& d);
// GET /v1/endpoints, /v1/admin/endpoints: one element of "endpoints".
boost::json::object endpoint_json(const store::EndpointState& e);
// GET /v1/erasures: one erasure, without its recipient_states.
boost::json::object erasure_json(const store::ErasureSummary& s);
// One element of an erasure's "recipient_states".
boost::json::object erasure_recipient_json(const store::ErasureRecipient& r);

}  // namespace cjhub::api
