// cjhub-loadgen: the benchmark load generator and receiving sinks.
//
//   cjhub-loadgen post --port 8443 --ca ca.crt --cert agency.crt --key agency.key --file a.xml[,b.xml]
//                      [--connections 64] [--seconds 10 | --count N] [--rate N] [--threads 1]
//                      [--case-token OTN-2026-0000456] [--host 127.0.0.1]
//                      [--sinks 9461,9462,9463 --sink-cert s.crt --sink-key s.key] [--drain-seconds 120]
//                      [--timeline 1]   (answers and the slowest answer in each second)
//                      [--warmup S]     (latency not recorded for requests sent in the first S seconds)
//                      [--latency-file F] (appends every recorded latency to F, in ms, one per line:
//                                          several runs' percentiles can then be taken together)
//                      [--receipts-file F] (with --sinks: one line per timed receipt, "POST_s RECEIPT_s MS",
//                                          seconds from the start of the run: rates and percentiles
//                                          over any window, e.g. while a snapshot was held)
//   cjhub-loadgen sink --sinks 9461,9462,9463 --ca ca.crt --sink-cert s.crt --sink-key s.key
//                      [--expect N] [--seconds S]
//   cjhub-loadgen get  --port 8443 --ca ca.crt --cert agency.crt --key agency.key --targets FILE
//                      [--pages 1] [--host 127.0.0.1]
//
// post: N keep-alive mutual-TLS connections POST the payload files in turn to /v1/messages, each
// request with a fresh Idempotency-Key and, with --case-token, a fresh case key written over that
// token (messages spread over cases as in real use). Closed loop (each connection sends again as
// soon as it is answered) or, with --rate, open loop: request i of the run is due at start + i/rate
// and its latency counts from that moment, so a slow answer is not hidden by the sends it delayed
// (no coordinated omission). With --sinks, the same process runs mutual-TLS receivers on those
// ports and, after the load, waits until every accepted message has reached every sink; the
// latency from POST to receipt is measured per message and delivery (one clock, one process).
//
// sink: only the receivers, for deliveries from any source; answers 200 at once. With --expect it
// exits when that many deliveries arrived, printing when the first and last arrived.
//
// get: one keep-alive mutual-TLS connection GETs each target of FILE (one request target a line,
// e.g. /v1/messages?case_key=X) in turn, one request at a time, and times each answer; with
// --pages N it follows the answer's `next` cursor for up to N pages of each target (each page
// timed on its own). Any answer but 200 is an error.
//
// Output: human-readable lines, then one `result` line of key=value pairs for the scripts.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iomanip>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench_util.hpp"
#include "bench/histogram.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using cjhub::bench::Histogram;

namespace {

using Args = std::map<std::string, std::string>;

Args parse_args(int argc, char** argv, int first) {
  Args a{{"connections", "64"}, {"host", "127.0.0.1"}, {"threads", "1"}, {"drain-seconds", "120"}};
  for (int i = first; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("bad argument " + k);
    a[k.substr(2)] = argv[i + 1];
  }
  return a;
}

const std::string& need(const Args& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end()) throw std::invalid_argument(std::string("--") + key + " is required");
  return it->second;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

double ms(double ns) { return ns / 1e6; }

// --- receivers -------------------------------------------------------------------------------

// What the sinks saw: per delivery, the message id and the moment it arrived.
struct Receipts {
  std::mutex mu;
  std::vector<std::pair<std::string, std::int64_t>> seen;  // (message id, arrival ns)
  std::atomic<long> count{0};
  std::atomic<std::int64_t> first_ns{0}, last_ns{0};

  void add(std::string id, std::int64_t t) {
    {
      std::lock_guard lock(mu);
      seen.emplace_back(std::move(id), t);
    }
    std::int64_t zero = 0;
    first_ns.compare_exchange_strong(zero, t);
    last_ns.store(t);
    count.fetch_add(1);
  }
};

asio::awaitable<void> serve_sink_connection(beast::ssl_stream<beast::tcp_stream> stream, Receipts& receipts) {
  try {
    co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
      const auto t = now_ns();
      auto& req = parser.get();
      if (auto it = req.find("Cjhub-Message-Id"); it != req.end()) receipts.add(std::string(it->value()), t);
      http::response<http::empty_body> res{http::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_await http::async_write(stream, res, asio::use_awaitable);
      if (!req.keep_alive()) break;
    }
  } catch (const boost::system::system_error&) {
    // The hub closed the connection, or a TLS error: nothing to count.
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, ssl::context& ctx, Receipts& receipts) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(),
                   serve_sink_connection(beast::ssl_stream<beast::tcp_stream>(std::move(socket), ctx), receipts),
                   asio::detached);
  }
}

// Receivers on the given ports, mutual TLS: the hub must present a certificate from the CA.
class Sinks {
 public:
  Sinks(const Args& a, Receipts& receipts) : ctx_(ssl::context::tls_server) {
    ctx_.use_certificate_chain_file(need(a, "sink-cert"));
    ctx_.use_private_key_file(need(a, "sink-key"), ssl::context::pem);
    ctx_.load_verify_file(need(a, "ca"));
    ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    for (const auto& port : split(need(a, "sinks"), ',')) {
      tcp::acceptor acc(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))));
      asio::co_spawn(ioc_, accept_loop(std::move(acc), ctx_, receipts), asio::detached);
      ++ports_;
    }
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Sinks() {
    ioc_.stop();
    thread_.join();
  }
  int ports() const { return ports_; }

 private:
  asio::io_context ioc_;
  ssl::context ctx_;
  int ports_ = 0;
  std::thread thread_;
};

// --- senders ---------------------------------------------------------------------------------

struct Payload {
  std::string body;
  std::size_t token_at = std::string::npos;
};

struct SendStats {
  Histogram latency;
  long accepted = 0, other = 0;
  std::vector<std::pair<std::string, std::int64_t>> sent;  // (message id, POST time ns), for --sinks
  std::vector<std::pair<long, std::int64_t>> per_second;   // (answers, slowest ns) by second of the run
  std::vector<std::int64_t> raw_ns;                        // every recorded latency, for --latency-file
  std::string last_error;

  void second(std::int64_t start_ns, std::int64_t now, std::int64_t took) {
    const auto i = static_cast<std::size_t>(std::max<std::int64_t>(0, (now - start_ns) / 1'000'000'000));
    if (per_second.size() <= i) per_second.resize(i + 1);
    per_second[i].first += 1;
    per_second[i].second = std::max(per_second[i].second, took);
  }
};

struct LoadPlan {
  std::vector<Payload> payloads;
  std::string case_token;
  int connections = 64;
  double rate = 0;                 // 0: closed loop
  long count = 0;                  // stop after this many requests in all (0: by time)
  std::int64_t start_ns = 0, stop_ns = 0;
  std::int64_t measure_from_ns = 0;  // latencies of requests sent before this are not recorded (warm-up)
  bool keep_ids = false;
  bool keep_raw = false;  // --latency-file
  std::atomic<long> issued{0};
  std::atomic<long> errors{0};
  // Handshakes under way: like a client's connection pool, at most kMaxHandshakes at once (the
  // hub refuses more than listener.max_handshakes_per_address unfinished ones from one address).
  std::atomic<int> handshaking{0};
  static constexpr int kMaxHandshakes = 16;
  std::atomic<long> reconnects{0};  // connections the hub ended after an answer, opened again
};

// One connection's share of the load. Like a real client it opens a new connection when the hub
// ends one (Connection: close after an answer, or an error), until the run is over; requests that
// failed on a broken connection count as errors.
asio::awaitable<void> run_connection(LoadPlan& plan, int c, ssl::context& ctx, tcp::endpoint ep, SendStats& st) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  long i = 0;  // this connection's requests so far (open loop: request c + i*N of the run)
  bool first = true;
  while (now_ns() < plan.stop_ns) {
    bool broken = false, in_request = false;
    try {
      beast::ssl_stream<beast::tcp_stream> s(ex, ctx);
      while (plan.handshaking.fetch_add(1) >= LoadPlan::kMaxHandshakes) {
        plan.handshaking.fetch_sub(1);
        timer.expires_after(std::chrono::milliseconds(1));
        co_await timer.async_wait(asio::use_awaitable);
      }
      struct Done {
        std::atomic<int>& n;
        bool released = false;
        void release() {
          if (!released) n.fetch_sub(1);
          released = true;
        }
        ~Done() { release(); }
      } handshake{plan.handshaking};
      co_await beast::get_lowest_layer(s).async_connect(ep, asio::use_awaitable);
      beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true));
      co_await s.async_handshake(ssl::stream_base::client, asio::use_awaitable);
      handshake.release();
      if (first) {
        first = false;
        timer.expires_at(Clock::time_point(std::chrono::nanoseconds(plan.start_ns)));
        co_await timer.async_wait(asio::use_awaitable);
      } else {
        plan.reconnects.fetch_add(1);
      }
      beast::flat_buffer buf;
      for (bool open = true; open; ++i) {
        std::int64_t due = now_ns();
        if (plan.rate > 0) {
          due = plan.start_ns + static_cast<std::int64_t>((static_cast<double>(c) + static_cast<double>(i) * plan.connections) * 1e9 / plan.rate);
          if (due >= plan.stop_ns) co_return;
          if (due > now_ns()) {
            timer.expires_at(Clock::time_point(std::chrono::nanoseconds(due)));
            co_await timer.async_wait(asio::use_awaitable);
          }
        } else if (due >= plan.stop_ns) {
          co_return;
        }
        const long n = plan.issued.fetch_add(1);
        if (plan.count > 0 && n >= plan.count) co_return;
        const auto& p = plan.payloads[static_cast<std::size_t>(n) % plan.payloads.size()];
        http::request<http::string_body> req{http::verb::post, "/v1/messages", 11};
        req.set(http::field::host, "localhost");
        req.set(http::field::content_type, "application/xml");
        req.set("Idempotency-Key", "load-" + std::to_string(plan.start_ns) + "-" + std::to_string(n));
        req.body() = p.body;
        if (p.token_at != std::string::npos) {
          // A case key of the token's length, unique in the run.
          std::string key = "C" + std::to_string(plan.start_ns % 1000000) + "-" + std::to_string(n);
          if (key.size() > plan.case_token.size()) throw std::length_error("--case-token too short for a unique key: " + key);
          key.resize(plan.case_token.size(), 'x');
          req.body().replace(p.token_at, plan.case_token.size(), key);
        }
        req.prepare_payload();
        const std::int64_t sent = plan.rate > 0 ? due : now_ns();
        in_request = true;
        co_await http::async_write(s, req, asio::use_awaitable);
        http::response<http::string_body> res;
        co_await http::async_read(s, buf, res, asio::use_awaitable);
        in_request = false;
        open = res.keep_alive();
        if (res.result_int() == 202) {
          ++st.accepted;
          const std::int64_t done = now_ns();
          if (sent >= plan.measure_from_ns) {
            st.latency.record(done - sent);
            if (plan.keep_raw) st.raw_ns.push_back(done - sent);
          }
          st.second(plan.start_ns, done, done - sent);
          if (plan.keep_ids && sent >= plan.measure_from_ns) {
            const auto loc = std::string(res[http::field::location]);
            st.sent.emplace_back(loc.substr(loc.rfind('/') + 1), sent);
          }
        } else {
          ++st.other;
          st.last_error = std::to_string(res.result_int()) + " " + res.body().substr(0, 200);
        }
      }
      beast::error_code ec;
      beast::get_lowest_layer(s).socket().shutdown(tcp::socket::shutdown_both, ec);
    } catch (const std::length_error&) {
      throw;
    } catch (const std::exception& e) {
      plan.errors.fetch_add(1);
      st.last_error = std::string("connection ") + std::to_string(c) + ": " + e.what();
      if (in_request) ++i;  // that request is lost; the next one keeps its schedule
      broken = true;
    }
    if (broken) {  // a short pause before opening a new connection
      timer.expires_after(std::chrono::milliseconds(10));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
}

std::string machine() {
  std::ostringstream os;
  os << std::thread::hardware_concurrency() << " cores";
  return os.str();
}

int post(const Args& a) {
  LoadPlan plan;
  plan.case_token = a.count("case-token") ? a.at("case-token") : "";
  for (const auto& f : split(need(a, "file"), ',')) {
    Payload p{cjhub::bench::slurp(f)};
    if (!plan.case_token.empty()) {
      p.token_at = p.body.find(plan.case_token);
      if (p.token_at == std::string::npos) throw std::invalid_argument("--case-token not in " + f);
    }
    plan.payloads.push_back(std::move(p));
  }
  plan.connections = std::stoi(a.at("connections"));
  plan.rate = a.count("rate") ? std::stod(a.at("rate")) : 0;
  plan.count = a.count("count") ? std::stol(a.at("count")) : 0;
  const double seconds = a.count("seconds") ? std::stod(a.at("seconds")) : (plan.count > 0 ? 1e6 : 10);
  const int threads = std::max(1, std::stoi(a.at("threads")));
  plan.keep_ids = a.count("sinks") > 0;
  plan.keep_raw = a.count("latency-file") > 0;

  Receipts receipts;
  std::optional<Sinks> sinks;
  if (plan.keep_ids) sinks.emplace(a, receipts);

  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(need(a, "ca"));
  ctx.use_certificate_chain_file(need(a, "cert"));
  ctx.use_private_key_file(need(a, "key"), ssl::context::pem);
  ctx.set_verify_mode(ssl::verify_peer);
  const tcp::endpoint ep(asio::ip::make_address(a.at("host")), static_cast<unsigned short>(std::stoi(need(a, "port"))));

  // Connections and handshakes first; the load starts for all of them at once.
  plan.start_ns = now_ns() + 1'000'000'000;
  plan.stop_ns = plan.start_ns + static_cast<std::int64_t>(seconds * 1e9);
  // Warm-up: the first seconds open connections (here and from the hub to the sinks); their
  // requests count for throughput but not for latency.
  plan.measure_from_ns = plan.start_ns + static_cast<std::int64_t>((a.count("warmup") ? std::stod(a.at("warmup")) : 0.0) * 1e9);
  std::vector<SendStats> stats(static_cast<std::size_t>(plan.connections));
  asio::io_context ioc(threads);
  for (int c = 0; c < plan.connections; ++c) asio::co_spawn(ioc, run_connection(plan, c, ctx, ep, stats[static_cast<std::size_t>(c)]), asio::detached);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  const std::int64_t load_end = now_ns();

  Histogram latency;
  long accepted = 0, other = 0;
  std::string last_error;
  if (plan.keep_raw) {
    std::FILE* f = std::fopen(a.at("latency-file").c_str(), "a");
    if (f == nullptr) throw std::runtime_error("--latency-file: cannot open " + a.at("latency-file"));
    for (const auto& st : stats) {
      for (const auto ns : st.raw_ns) std::fprintf(f, "%.3f\n", static_cast<double>(ns) / 1e6);
    }
    std::fclose(f);
  }
  for (auto& st : stats) {
    latency.merge(st.latency);
    accepted += st.accepted;
    other += st.other;
    if (!st.last_error.empty()) last_error = st.last_error;
  }
  const double secs = static_cast<double>(load_end - plan.start_ns) / 1e9;
  std::printf("machine: %s; payloads %zu file(s), %zu bytes first; %d connections, %s\n", machine().c_str(),
              plan.payloads.size(), plan.payloads[0].body.size(), plan.connections,
              plan.rate > 0 ? ("open loop at " + std::to_string(static_cast<long>(plan.rate)) + "/s").c_str() : "closed loop");
  std::printf("accepted %ld in %.2f s (%ld/s); other answers %ld; connection errors %ld; reconnections %ld\n", accepted,
              secs, static_cast<long>(static_cast<double>(accepted) / secs), other, plan.errors.load(), plan.reconnects.load());
  if (!last_error.empty()) std::printf("last error: %s\n", last_error.c_str());
  if (plan.measure_from_ns > plan.start_ns)
    std::printf("latency recorded from %.1f s on (warm-up before)\n", static_cast<double>(plan.measure_from_ns - plan.start_ns) / 1e9);
  std::printf("POST latency ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", ms(latency.percentile(50)),
              ms(latency.percentile(99)), ms(latency.percentile(99.9)), ms(static_cast<double>(latency.max())));

  if (a.count("timeline") && a.at("timeline") == "1") {
    // Answers and the slowest answer in each second of the run: where the tail comes from.
    std::vector<std::pair<long, std::int64_t>> seconds_seen;
    for (auto& st : stats) {
      if (seconds_seen.size() < st.per_second.size()) seconds_seen.resize(st.per_second.size());
      for (std::size_t i = 0; i < st.per_second.size(); ++i) {
        seconds_seen[i].first += st.per_second[i].first;
        seconds_seen[i].second = std::max(seconds_seen[i].second, st.per_second[i].second);
      }
    }
    for (std::size_t i = 0; i < seconds_seen.size(); ++i)
      std::printf("second %zu: %ld answers, slowest %.1f ms\n", i, seconds_seen[i].first, ms(static_cast<double>(seconds_seen[i].second)));
  }
  std::ostringstream result;
  result << std::fixed << std::setprecision(2);
  result << "result accepted=" << accepted << " other=" << other << " errors=" << plan.errors.load()
         << " reconnects=" << plan.reconnects.load() << " seconds=" << secs
         << " accepted_per_s=" << static_cast<long>(static_cast<double>(accepted) / secs)
         << " p50_ms=" << ms(latency.percentile(50)) << " p99_ms=" << ms(latency.percentile(99))
         << " p999_ms=" << ms(latency.percentile(99.9));

  bool complete = true;
  if (sinks) {
    const int ports = sinks->ports();
    const long expected = accepted * ports;
    const auto deadline = Clock::now() + std::chrono::seconds(std::stoi(a.at("drain-seconds")));
    while (receipts.count.load() < expected && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sinks.reset();  // stop the receivers before reading what they saw
    std::unordered_map<std::string, std::int64_t> sent_at;
    for (auto& st : stats)
      for (auto& [id, t] : st.sent) sent_at.emplace(id, t);
    Histogram e2e;
    long unknown = 0;
    std::FILE* receipts_file = nullptr;
    if (a.count("receipts-file")) {
      receipts_file = std::fopen(a.at("receipts-file").c_str(), "w");
      if (receipts_file == nullptr) throw std::runtime_error("--receipts-file: cannot open " + a.at("receipts-file"));
    }
    std::vector<std::pair<long, std::int64_t>> e2e_seconds;  // (receipts, slowest) by second of the POST
    for (auto& [id, t] : receipts.seen) {
      auto it = sent_at.find(id);
      if (it == sent_at.end()) { ++unknown; continue; }
      e2e.record(t - it->second);
      if (receipts_file != nullptr) {
        std::fprintf(receipts_file, "%.3f %.3f %.3f\n", static_cast<double>(it->second - plan.start_ns) / 1e9,
                     static_cast<double>(t - plan.start_ns) / 1e9, ms(static_cast<double>(t - it->second)));
      }
      const auto i = static_cast<std::size_t>(std::max<std::int64_t>(0, (it->second - plan.start_ns) / 1'000'000'000));
      if (e2e_seconds.size() <= i) e2e_seconds.resize(i + 1);
      e2e_seconds[i].first += 1;
      e2e_seconds[i].second = std::max(e2e_seconds[i].second, t - it->second);
    }
    if (receipts_file != nullptr) std::fclose(receipts_file);
    if (a.count("timeline") && a.at("timeline") == "1") {
      for (std::size_t i = 0; i < e2e_seconds.size(); ++i)
        std::printf("receipts of second %zu: %ld, slowest %.1f ms after its POST\n", i, e2e_seconds[i].first,
                    ms(static_cast<double>(e2e_seconds[i].second)));
    }
    const long got = receipts.count.load();
    // From the first POST to the last receipt (nothing received: no rate).
    const double span = got > 0 ? static_cast<double>(receipts.last_ns.load() - plan.start_ns) / 1e9 : 0.0;
    const auto per_s = [&](double n) { return span > 0 ? static_cast<long>(n / span) : 0L; };
    complete = got >= expected;
    std::printf("deliveries: %ld of %ld (%d sinks) in %.2f s from the first POST: %ld/s, %ld messages/s to every sink\n",
                got, expected, ports, span, per_s(static_cast<double>(got)), per_s(static_cast<double>(got) / ports));
    std::printf("POST to receipt ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (%ld receipts not timed: warm-up)\n",
                ms(e2e.percentile(50)), ms(e2e.percentile(99)), ms(e2e.percentile(99.9)), ms(static_cast<double>(e2e.max())), unknown);
    result << " deliveries=" << got << " expected=" << expected << " delivery_seconds=" << span
           << " deliveries_per_s=" << per_s(static_cast<double>(got))
           << " e2e_p50_ms=" << ms(e2e.percentile(50)) << " e2e_p99_ms=" << ms(e2e.percentile(99))
           << " e2e_p999_ms=" << ms(e2e.percentile(99.9));
  }
  std::printf("%s\n", result.str().c_str());
  std::fflush(stdout);
  return plan.errors.load() == 0 && other == 0 && complete ? 0 : 1;
}

int sink(const Args& a) {
  Receipts receipts;
  Sinks sinks(a, receipts);
  const long expect = a.count("expect") ? std::stol(a.at("expect")) : 0;
  const auto deadline = Clock::now() + std::chrono::seconds(a.count("seconds") ? std::stol(a.at("seconds")) : 86400L * 365);
  asio::io_context sig_ioc;
  asio::signal_set signals(sig_ioc, SIGINT, SIGTERM);
  std::atomic<bool> stop{false};
  signals.async_wait([&](auto, int) { stop = true; });
  std::thread sig_thread([&] { sig_ioc.run(); });
  std::printf("sinks listening on %s\n", need(a, "sinks").c_str());
  std::fflush(stdout);
  long last = 0;
  auto next_report = Clock::now() + std::chrono::seconds(1);
  while (!stop && Clock::now() < deadline && (expect == 0 || receipts.count.load() < expect)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (Clock::now() >= next_report) {
      const long n = receipts.count.load();
      std::printf("received %ld (+%ld/s)\n", n, n - last);
      std::fflush(stdout);
      last = n;
      next_report += std::chrono::seconds(1);
    }
  }
  sig_ioc.stop();
  sig_thread.join();
  // Wall-clock times, so a script can relate them to when it started the hub.
  const auto to_wall = [](std::int64_t steady_ns) {
    const auto age = Clock::now().time_since_epoch() - std::chrono::nanoseconds(steady_ns);
    return std::chrono::duration<double>((std::chrono::system_clock::now() - age).time_since_epoch()).count();
  };
  const long n = receipts.count.load();
  std::printf("result received=%ld first_epoch=%.3f last_epoch=%.3f\n", n, n ? to_wall(receipts.first_ns.load()) : 0.0,
              n ? to_wall(receipts.last_ns.load()) : 0.0);
  std::fflush(stdout);
  return expect == 0 || n >= expect ? 0 : 1;
}

// The value of the top-level string member `"next"` of a search answer, or "" (the cursor is
// base64url: no escapes to undo).
std::string next_cursor(const std::string& body) {
  const auto k = body.rfind("\"next\":\"");
  if (k == std::string::npos) return "";
  const auto from = k + 8;
  const auto to = body.find('"', from);
  return to == std::string::npos ? "" : body.substr(from, to - from);
}

int get(const Args& a) {
  std::vector<std::string> targets;
  {
    std::istringstream in(cjhub::bench::slurp(need(a, "targets")));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) targets.push_back(line);
  }
  if (targets.empty()) throw std::invalid_argument("--targets names no request");
  const int pages = a.count("pages") ? std::max(1, std::stoi(a.at("pages"))) : 1;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(need(a, "ca"));
  ctx.use_certificate_chain_file(need(a, "cert"));
  ctx.use_private_key_file(need(a, "key"), ssl::context::pem);
  ctx.set_verify_mode(ssl::verify_peer);
  asio::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  const tcp::endpoint ep(asio::ip::make_address(a.at("host")), static_cast<unsigned short>(std::stoi(need(a, "port"))));
  beast::get_lowest_layer(stream).connect(ep);
  beast::get_lowest_layer(stream).socket().set_option(tcp::no_delay(true));
  stream.handshake(ssl::stream_base::client);
  beast::flat_buffer buffer;
  Histogram first, later;
  long answers = 0, errors = 0, items = 0;
  std::string last_error;
  for (const auto& target : targets) {
    std::string cursor;
    for (int page = 0; page < pages; ++page) {
      const auto t = target + (cursor.empty() ? "" : (target.find('?') == std::string::npos ? "?" : "&") + ("cursor=" + cursor));
      http::request<http::empty_body> req{http::verb::get, t, 11};
      req.set(http::field::host, "localhost");
      req.keep_alive(true);
      const auto start = now_ns();
      http::write(stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      http::read(stream, buffer, parser);
      const auto took = now_ns() - start;
      const auto& res = parser.get();
      ++answers;
      if (res.result_int() != 200) {
        ++errors;
        last_error = std::to_string(res.result_int()) + " for " + t + ": " + res.body().substr(0, 300);
        break;
      }
      (page == 0 ? first : later).record(took);
      for (auto p = res.body().find("\"message_id\""); p != std::string::npos; p = res.body().find("\"message_id\"", p + 1)) ++items;
      cursor = next_cursor(res.body());
      if (cursor.empty()) break;
    }
  }
  Histogram all;
  all.merge(first);
  all.merge(later);
  std::printf("%ld answers to %zu targets (%d page(s) each at most), %ld messages listed; errors %ld\n", answers,
              targets.size(), pages, items, errors);
  if (!last_error.empty()) std::printf("last error: %s\n", last_error.c_str());
  std::printf("first pages ms: p50 %.2f  p99 %.2f  max %.2f (%llu)\n", ms(first.percentile(50)), ms(first.percentile(99)),
              ms(static_cast<double>(first.max())), static_cast<unsigned long long>(first.count()));
  if (later.count() > 0)
    std::printf("later pages ms: p50 %.2f  p99 %.2f  max %.2f (%llu)\n", ms(later.percentile(50)), ms(later.percentile(99)),
                ms(static_cast<double>(later.max())), static_cast<unsigned long long>(later.count()));
  std::printf("result answers=%ld errors=%ld items=%ld p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", answers, errors, items,
              ms(all.percentile(50)), ms(all.percentile(99)), ms(static_cast<double>(all.max())));
  std::fflush(stdout);
  beast::error_code ec;
  stream.shutdown(ec);
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "post") return post(parse_args(argc, argv, 2));
  if (mode == "sink") return sink(parse_args(argc, argv, 2));
  if (mode == "get") return get(parse_args(argc, argv, 2));
  std::cerr << "usage: cjhub-loadgen post|sink|get --option value ... (see the head of tests/bench/loadgen.cpp)\n";
  return 2;
} catch (const std::invalid_argument& e) {
  std::cerr << "cjhub-loadgen: " << e.what() << "\n";
  return 2;
} catch (const std::exception& e) {
  std::cerr << "cjhub-loadgen: " << e.what() << "\n";
  return 2;
}
