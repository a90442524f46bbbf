// Reads socket options of this process's own TCP connections (from /proc/self/fd), so a test can
// check what an in-process server or client set on the sockets it opened.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace cjhub::test {

struct OwnTcpSocket {
  unsigned short local_port = 0;
  unsigned short peer_port = 0;  // 0: not connected (a listener)
  bool nodelay = false;
};

inline std::vector<OwnTcpSocket> own_tcp_sockets() {
  std::vector<OwnTcpSocket> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::atoi(e.path().filename().c_str());
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    if (local.ss_family != AF_INET && local.ss_family != AF_INET6) continue;
    int type = 0;
    socklen_t tl = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) continue;
    auto port = [](const sockaddr_storage& a) -> unsigned short {
      return ntohs(a.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(a).sin_port
                                          : reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    };
    OwnTcpSocket s;
    s.local_port = port(local);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0) s.peer_port = port(peer);
    int v = 0;
    socklen_t vl = sizeof v;
    s.nodelay = ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v != 0;
    out.push_back(s);
  }
  return out;
}

}  // namespace cjhub::test
