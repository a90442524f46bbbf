#include "cjhub/common/server_list.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include <fmt/format.h>

namespace cjhub {

namespace asio = boost::asio;

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::uint16_t parse_port(const std::string& s, const std::string& item) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument(fmt::format("'{}': the port must be a number from 1 to 65535", item));
  }
  const auto n = std::stoul(s);
  if (n == 0 || n > 65535) throw std::invalid_argument(fmt::format("'{}': the port must be from 1 to 65535", item));
  return static_cast<std::uint16_t>(n);
}

asio::ip::address parse_address(const std::string& s, const std::string& item) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(s, ec);
  if (ec) throw std::invalid_argument(fmt::format("'{}': not an IP address (servers are named by address, not by name)", item));
  return a;
}

}  // namespace

std::string normalise_server_list(const std::string& list, std::uint16_t default_port) {
  std::string out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = std::min(list.find(',', start), list.size());
    const auto item = trim(list.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      if (comma == list.size() && out.empty() && trim(list).empty()) break;
      throw std::invalid_argument("an empty entry in the DNS server list");
    }
    std::string host = item;
    std::uint16_t port = default_port;
    if (item.front() == '[') {  // [v6] or [v6]:port
      const auto close = item.find(']');
      if (close == std::string::npos) throw std::invalid_argument(fmt::format("'{}': missing ']'", item));
      host = item.substr(1, close - 1);
      const auto rest = item.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') throw std::invalid_argument(fmt::format("'{}': expected ':port' after ']'", item));
        port = parse_port(rest.substr(1), item);
      }
      if (!parse_address(host, item).is_v6()) throw std::invalid_argument(fmt::format("'{}': brackets hold an IPv6 address", item));
    } else if (std::count(item.begin(), item.end(), ':') == 1) {  // v4:port
      host = item.substr(0, item.find(':'));
      port = parse_port(item.substr(item.find(':') + 1), item);
      if (!parse_address(host, item).is_v4()) throw std::invalid_argument(fmt::format("'{}': not an IPv4 address", item));
    } else {
      parse_address(host, item);  // a bare v4 or v6 address
    }
    const bool v6 = host.find(':') != std::string::npos;
    if (!out.empty()) out += ',';
    out += v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
    if (comma == list.size()) break;
  }
  return out;
}

}  // namespace cjhub
