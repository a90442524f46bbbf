// What the running binary is: its version (the project's) and the commit it was built from
// ("unknown" outside a git checkout). In `cjhub version` and the metric cjhub_build_info.
#pragma once

#include <string>

namespace cjhub::app {

std::string build_version();
std::string build_commit();

}  // namespace cjhub::app
