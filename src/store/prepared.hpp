// Named (prepared) statements, declared on every new connection by store::connect(). Each stage
// keeps its statements beside the code that runs them and lists its prepared ones here.
#pragma once

#include <pqxx/connection>

namespace cjhub::store {

void prepare_messages_statements(pqxx::connection& conn);    // messages_repo.cpp: ingest
void prepare_routing_statements(pqxx::connection& conn);     // routing_repo.cpp: routing and acknowledgements
void prepare_erasures_statements(pqxx::connection& conn);    // erasures_repo.cpp: erasure in the ingest transaction
void prepare_deliveries_statements(pqxx::connection& conn);  // deliveries_repo.cpp: claims and completions
void prepare_audit_statements(pqxx::connection& conn);       // audit_repo.cpp: records written with each change

inline void prepare_statements(pqxx::connection& conn) {
  prepare_messages_statements(conn);
  prepare_routing_statements(conn);
  prepare_erasures_statements(conn);
  prepare_deliveries_statements(conn);
  prepare_audit_statements(conn);
}

}  // namespace cjhub::store
