// Named (prepared) statements, declared on every new connection by store::connect(). Each stage
// keeps its statements beside the code that runs them and lists its prepared ones here.
#pragma once

#include "store/connection_impl.hpp"


namespace cjhub::store {

void prepare_messages_statements(Connection& conn);    // messages_repo.cpp: ingest
void prepare_routing_statements(Connection& conn);     // routing_repo.cpp: routing and acknowledgements
void prepare_erasures_statements(Connection& conn);    // erasures_repo.cpp: erasure in the ingest transaction
void prepare_deliveries_statements(Connection& conn);  // deliveries_repo.cpp: claims and completions
void prepare_audit_statements(Connection& conn);       // audit_repo.cpp: records written with each change
void prepare_lanes_statements(Connection& conn);       // lanes.cpp: case locks, promotion of lanes
void prepare_log_statements(Connection& conn);         // log_repo.cpp: reading the log, moving cursors
void prepare_endpoint_health_statements(Connection& conn);  // endpoint_health.cpp: a send's success
void prepare_database_statements(Connection& conn);    // database.cpp: the node, for readiness

inline void prepare_statements(Connection& conn) {
  prepare_messages_statements(conn);
  prepare_routing_statements(conn);
  prepare_erasures_statements(conn);
  prepare_deliveries_statements(conn);
  prepare_audit_statements(conn);
  prepare_lanes_statements(conn);
  prepare_log_statements(conn);
  prepare_endpoint_health_statements(conn);
  prepare_database_statements(conn);
}

}  // namespace cjhub::store
