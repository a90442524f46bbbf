#include "support/dns_server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cjhub::test {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::uint16_t kTypeA = 1, kTypeAAAA = 28;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xFF);
}

}  // namespace

struct DnsServer::Impl {
  asio::io_context ioc;
  udp::socket socket{ioc, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::thread thread;
  mutable std::mutex mutex;
  std::map<std::string, Name> names;
  std::map<std::string, int> counts;
  std::vector<char> buf = std::vector<char>(1500);
  udp::endpoint from;

  void receive() {
    socket.async_receive_from(asio::buffer(buf), from, [this](boost::system::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) handle(std::string(buf.data(), n), from);
      receive();
    });
  }

  void handle(const std::string& q, const udp::endpoint& peer) {
    if (q.size() < 17) return;
    // The question: labels from offset 12, then type and class.
    std::string name;
    std::size_t p = 12;
    while (p < q.size() && q[p] != 0) {
      const auto len = static_cast<unsigned char>(q[p]);
      if (len > 63 || p + 1 + len > q.size()) return;
      if (!name.empty()) name += '.';
      name += q.substr(p + 1, len);
      p += 1 + len;
    }
    if (p + 5 > q.size()) return;
    const std::size_t question_end = p + 5;
    const std::uint16_t type = static_cast<std::uint16_t>((static_cast<unsigned char>(q[p + 1]) << 8) |
                                                          static_cast<unsigned char>(q[p + 2]));
    name = lower(name);
    std::optional<Name> entry;
    {
      std::lock_guard lock(mutex);
      if (auto it = names.find(name); it != names.end()) entry = it->second;
      if (type == kTypeA) ++counts[name];
    }
    std::string a;
    a += q.substr(0, 2);                                  // id
    const bool rd = (static_cast<unsigned char>(q[2]) & 0x01) != 0;
    const int rcode = !entry ? 3 : entry->servfail ? 2 : 0;  // NXDOMAIN, SERVFAIL, NOERROR
    a += static_cast<char>(0x84 | (rd ? 0x01 : 0x00));    // QR, AA, RD as asked
    a += static_cast<char>(0x80 | rcode);                 // RA, rcode
    const bool answer = rcode == 0 && type == kTypeA;
    put16(a, 1);
    put16(a, answer ? 1 : 0);
    put16(a, 0);
    put16(a, 0);
    a += q.substr(12, question_end - 12);
    if (answer) {
      const auto addr = asio::ip::make_address_v4(entry->address).to_bytes();
      put16(a, 0xC00C);  // the name of the question
      put16(a, kTypeA);
      put16(a, 1);       // IN
      put16(a, static_cast<std::uint16_t>(entry->ttl >> 16));
      put16(a, static_cast<std::uint16_t>(entry->ttl & 0xFFFF));
      put16(a, 4);
      a.append(reinterpret_cast<const char*>(addr.data()), addr.size());
    }
    const auto delay = entry ? entry->delay : std::chrono::milliseconds(0);
    auto reply = std::make_shared<std::string>(std::move(a));
    if (delay.count() == 0) {
      boost::system::error_code ec;
      socket.send_to(asio::buffer(*reply), peer, 0, ec);
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(ioc, delay);
    timer->async_wait([this, timer, reply, peer](boost::system::error_code ec) {
      if (ec) return;
      boost::system::error_code sec;
      socket.send_to(asio::buffer(*reply), peer, 0, sec);
    });
  }
};

DnsServer::DnsServer() : impl_(std::make_unique<Impl>()) {
  impl_->receive();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

DnsServer::~DnsServer() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void DnsServer::set(const std::string& name, Name n) {
  std::lock_guard lock(impl_->mutex);
  impl_->names[lower(name)] = std::move(n);
}

std::string DnsServer::address() const {
  return "127.0.0.1:" + std::to_string(impl_->socket.local_endpoint().port());
}

int DnsServer::queries(const std::string& name) const {
  std::lock_guard lock(impl_->mutex);
  const auto it = impl_->counts.find(lower(name));
  return it == impl_->counts.end() ? 0 : it->second;
}

}  // namespace cjhub::test
