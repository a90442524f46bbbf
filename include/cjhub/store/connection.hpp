// The store's handles: a connection and a transaction. Callers hold and pass them; only the store
// sees what is inside (libpqxx, src/store/connection_impl.hpp), so no other module includes pqxx
// or depends on its types and errors.
#pragma once

#include <memory>

namespace cjhub::store {

class Connection;   // one database connection, with every statement of the store prepared on it
class Transaction;  // a transaction on a Connection, owned by the store function that opened it

struct ConnectionDeleter {
  void operator()(Connection* c) const noexcept;
};
using ConnectionPtr = std::unique_ptr<Connection, ConnectionDeleter>;

// False once the server closed the connection or it failed.
bool is_open(const Connection& c) noexcept;

}  // namespace cjhub::store
