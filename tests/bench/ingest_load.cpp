// cjhub-ingest-load: closed-loop load over keep-alive mutual-TLS connections.
// Each connection is a thread that POSTs the payload as fast as the hub answers, with a fresh
// Idempotency-Key each time, and records every latency. Prints accepted/s and percentiles.
//
//   cjhub-ingest-load --port 8443 --ca ca.crt --cert c.crt --key c.key --file doc.xml
//                     [--connections 64] [--seconds 10] [--host 127.0.0.1]
//                     [--case-token OTN-2026-0000456]   (replaced by a fresh case key per request,
//                                                        so messages spread over cases as in real use)
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using Clock = std::chrono::steady_clock;

#include "bench/bench_util.hpp"

using cjhub::bench::slurp;

namespace {

std::map<std::string, std::string> parse_args(int argc, char** argv) {
  std::map<std::string, std::string> a{{"connections", "64"}, {"seconds", "10"}, {"host", "127.0.0.1"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::runtime_error("bad argument " + k);
    a[k.substr(2)] = argv[i + 1];
  }
  for (const char* req : {"port", "ca", "cert", "key", "file"}) {
    if (!a.count(req)) throw std::runtime_error(std::string("--") + req + " is required");
  }
  return a;
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) try {
  const auto a = parse_args(argc, argv);
  const auto body = slurp(a.at("file"));
  const int conns = std::stoi(a.at("connections"));
  const std::string case_token = a.count("case-token") ? a.at("case-token") : "";
  const auto token_at = case_token.empty() ? std::string::npos : body.find(case_token);
  if (!case_token.empty() && token_at == std::string::npos) throw std::runtime_error("--case-token not in the payload");
  const auto duration = std::chrono::seconds(std::stoi(a.at("seconds")));
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(a.at("host")),
                                   static_cast<unsigned short>(std::stoi(a.at("port"))));

  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(a.at("ca"));
  ctx.use_certificate_chain_file(a.at("cert"));
  ctx.use_private_key_file(a.at("key"), ssl::context::pem);
  ctx.set_verify_mode(ssl::verify_peer);

  std::atomic<bool> go{false}, stop{false};
  std::atomic<long> accepted{0}, other{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::vector<std::thread> threads;
  for (int t = 0; t < conns; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> mine;
      long n = 0;
      try {
        asio::io_context ioc;
        beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
        beast::get_lowest_layer(s).connect(ep);
        s.handshake(ssl::stream_base::client);
        beast::flat_buffer buf;
        while (!go) std::this_thread::yield();
        while (!stop) {
          http::request<http::string_body> req{http::verb::post, "/v1/messages", 11};
          req.set(http::field::host, "localhost");
          req.set(http::field::content_type, "application/xml");
          req.set("Idempotency-Key", "load-" + std::to_string(t) + "-" + std::to_string(n++) + "-" +
                                         std::to_string(Clock::now().time_since_epoch().count()));
          if (token_at != std::string::npos) {
            std::string b = body;
            const auto key = "C" + std::to_string(t) + "-" + std::to_string(n);
            b.replace(token_at, case_token.size(), key + std::string(case_token.size() > key.size() ? case_token.size() - key.size() : 0, 'x'));
            req.body() = std::move(b);
          } else {
            req.body() = body;
          }
          req.prepare_payload();
          const auto t0 = Clock::now();
          http::write(s, req);
          http::response<http::string_body> res;
          http::read(s, buf, res);
          const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          if (res.result_int() == 202) {
            accepted.fetch_add(1);
            mine.push_back(ms);
          } else {
            other.fetch_add(1);
          }
        }
      } catch (const std::exception& e) {
        errors.fetch_add(1);
        std::cerr << "connection " << t << ": " << e.what() << "\n";
      }
      std::lock_guard lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // connect + handshake
  const auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::cout << "payload_bytes=" << body.size() << " connections=" << conns << " seconds=" << secs << "\n"
            << "accepted=" << accepted << " other_status=" << other << " connection_errors=" << errors << "\n"
            << "accepted_per_second=" << static_cast<long>(static_cast<double>(accepted) / secs) << "\n"
            << "latency_ms p50=" << pct(latencies_ms, 50) << " p99=" << pct(latencies_ms, 99)
            << " p999=" << pct(latencies_ms, 99.9) << " max=" << (latencies_ms.empty() ? 0 : latencies_ms.back())
            << "\n";
  return errors == 0 && other == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "cjhub-ingest-load: " << e.what() << "\n";
  return 2;
}
