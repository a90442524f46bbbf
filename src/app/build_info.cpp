#include "cjhub/app/build_info.hpp"

#include "cjhub_commit.hpp"
#include "cjhub_version.hpp"

namespace cjhub::app {

std::string build_version() { return CJHUB_VERSION; }
std::string build_commit() { return CJHUB_COMMIT; }

}  // namespace cjhub::app
