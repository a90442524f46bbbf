// Reading a large result row by row: a server-side cursor (DECLARE ... NO SCROLL CURSOR) fetched
// a batch at a time inside the caller's transaction, each row handed to a callback, so that what
// a command lists (dead letters, ...) is written as it is read and memory holds one batch.
// Internal to the store.
#pragma once

#include <functional>
#include <pqxx/pqxx>
#include <string>

namespace cjhub::store::cursor {

// Runs `query` (its $n parameters bound to `params`) through a cursor named `name`, `batch` rows
// a fetch, calling `each` for every row; closes the cursor.
template <class... Params>
void each_row(pqxx::transaction_base& tx, const std::string& name, const std::string& query,
              const std::function<void(const pqxx::row&)>& each, Params&&... params) {
  tx.exec_params("DECLARE " + name + " NO SCROLL CURSOR FOR " + query, std::forward<Params>(params)...);
  const std::string fetch = "FETCH 1000 FROM " + name;
  for (;;) {
    const auto batch = tx.exec(fetch);
    for (const auto& row : batch) each(row);
    if (batch.size() < 1000) break;
  }
  tx.exec("CLOSE " + name);
}

}  // namespace cjhub::store::cursor
