// A loopback TCP proxy a test can cut: every connection through it is closed and new ones are
// refused until it is restored. The hub sees its database vanish and come back, while the real
// PostgreSQL cluster (shared by other tests) keeps running.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cjhub::test {

class TcpProxy {
 public:
  TcpProxy(std::string target_host, unsigned short target_port);  // listens on 127.0.0.1, any port
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  unsigned short port() const { return port_; }
  void cut();      // closes every connection, refuses new ones
  void restore();  // accepts and forwards again

 private:
  void accept_loop();
  void pump(int client, int upstream, unsigned generation);
  std::string host_;
  unsigned short target_port_;
  int listen_fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_{false};
  std::atomic<unsigned> generation_{0};
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// The URL with its port replaced (postgresql://user@host:PORT/db).
std::string with_port(const std::string& url, unsigned short port);
unsigned short port_of(const std::string& url);

}  // namespace cjhub::test
