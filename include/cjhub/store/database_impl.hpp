#pragma once
#include <pqxx/except>

namespace cjhub::store {

template <class F>
auto translate_errors(F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::in_doubt_error& e) {
    throw DbOutcomeUnknown(e.what());
  } catch (const pqxx::broken_connection& e) {
    throw DbUnavailable(e.what());
  } catch (const pqxx::sql_error& e) {
    // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 08xxx connection
    const std::string state = e.sqlstate();
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
      throw DbUnavailable(e.what());
    }
    throw;
  }
}

}  // namespace cjhub::store
