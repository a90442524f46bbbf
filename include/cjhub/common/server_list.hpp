// A list of servers named by address ("ip[:port],[v6]:port,..."), as the configuration gives
// DNS servers. Names are not allowed: these are what resolves names.
#pragma once

#include <cstdint>
#include <string>

namespace cjhub {

// The list as "ip:port,[v6]:port" (c-ares' form), `default_port` where none is given; "" for an
// empty or blank list. Throws std::invalid_argument naming the entry that is wrong.
std::string normalise_server_list(const std::string& list, std::uint16_t default_port);

}  // namespace cjhub
