#pragma once
#include <string>
#include <vector>

#include "cjhub/store/migrations.hpp"

namespace cjhub::store {
const std::vector<Migration>& embedded_migrations();
}
