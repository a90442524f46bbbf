// cjhub-rabbitmq-peer: the RabbitMQ side of the broker comparison.
//
// Publishes the payload file as persistent messages to a durable fanout exchange (cjhub.bench)
// bound to N durable queues (cjhub.bench.0 .. N-1, classic queues: the broker's default type),
// with publisher confirms, and consumes every queue with manual acknowledgements, all in one
// process so that publish and consume times come from the same steady clock.
//
//   cjhub-rabbitmq-peer --port 55672 --file payload.xml [--host 127.0.0.1] [--queues 3]
//                       [--seconds 10] [--window 256] [--rate N]
//
// - One publisher connection keeps up to --window unconfirmed messages in flight (basic.ack and
//   basic.nack, single or multiple, settle them). Closed loop by default: the next message goes
//   out as soon as the window allows. With --rate N, open loop: message i is due at start + i/N;
//   latencies are measured from the due time, so a stalled broker is charged for the whole delay
//   (no coordinated omission).
// - One consumer connection per queue, prefetch 256, acknowledging every message (a multiple ack
//   covers at most 32 deliveries, or whatever has arrived when the socket has nothing more).
// - Each message carries its due/send time (steady clock, ns) in the x-cjhub-sent-ns header.
//
// After --seconds of publishing it waits for the outstanding confirms, then until every queue
// has delivered every confirmed message (30 s limit each), and prints a summary and one line:
//   rabbitmq published=.. confirmed=.. consumed=.. seconds=.. msgs_per_s=.. deliveries_per_s=..
//            confirm_p50_ms=.. confirm_p99_ms=.. e2e_p50_ms=.. e2e_p99_ms=.. e2e_p999_ms=..
// Exit status: 0 on success, 1 on a broker or I/O failure, 2 on bad arguments.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else  // rabbitmq-c before 0.12 (Debian bookworm's 0.11) installs its headers at the top level
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.hpp"
#include "bench/histogram.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using cjhub::bench::Histogram;

constexpr const char* kExchange = "cjhub.bench";
constexpr const char* kQueuePrefix = "cjhub.bench.";
constexpr const char* kSentHeader = "x-cjhub-sent-ns";
constexpr amqp_channel_t kChannel = 1;
constexpr std::uint16_t kPrefetch = 256;
constexpr int kAckBatch = 32;
constexpr auto kDrainTimeout = 30s;  // for the last confirms, then for the last deliveries

constexpr const char* kUsage =
    "usage: cjhub-rabbitmq-peer --port P --file payload.xml [--host 127.0.0.1] [--queues 3]\n"
    "                           [--seconds 10] [--window 256] [--rate N]\n";

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }
std::int64_t ns_of(Clock::time_point t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(); }
double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// --- options ---------------------------------------------------------------------------------

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string file;
  int queues = 3;
  int seconds = 10;
  int window = 256;
  int rate = 0;  // messages per second; 0: closed loop
};

int parse_int(const std::string& key, const std::string& value, int lo, int hi) {
  int v = 0;
  const auto* end = value.data() + value.size();
  const auto [p, ec] = std::from_chars(value.data(), end, v);
  if (ec != std::errc{} || p != end || v < lo || v > hi) {
    throw UsageError("--" + key + " wants an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                     ", not '" + value + "'");
  }
  return v;
}

Options parse_args(int argc, char** argv) {
  static const std::set<std::string> known{"host", "port", "file", "queues", "seconds", "window", "rate"};
  std::map<std::string, std::string> a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || !known.count(k.substr(2))) throw UsageError("unknown option '" + k + "'");
    if (i + 1 >= argc) throw UsageError(k + " needs a value");
    a[k.substr(2)] = argv[i + 1];
  }
  for (const char* req : {"port", "file"}) {
    if (!a.count(req)) throw UsageError(std::string("--") + req + " is required");
  }
  Options o;
  if (a.count("host")) o.host = a.at("host");
  o.port = parse_int("port", a.at("port"), 1, 65535);
  o.file = a.at("file");
  if (a.count("queues")) o.queues = parse_int("queues", a.at("queues"), 1, 64);
  if (a.count("seconds")) o.seconds = parse_int("seconds", a.at("seconds"), 1, 3600);
  if (a.count("window")) o.window = parse_int("window", a.at("window"), 1, 65536);
  if (a.count("rate")) o.rate = parse_int("rate", a.at("rate"), 1, 10'000'000);
  return o;
}

// --- librabbitmq error reporting ------------------------------------------------------------

std::string bytes_str(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

// The broker's reason for closing a channel or the connection, or the method's name.
std::string describe_method(const amqp_method_t& m) {
  if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* c = static_cast<const amqp_connection_close_t*>(m.decoded);
    return "the broker closed the connection: " + std::to_string(c->reply_code) + " " + bytes_str(c->reply_text);
  }
  if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* c = static_cast<const amqp_channel_close_t*>(m.decoded);
    return "the broker closed the channel: " + std::to_string(c->reply_code) + " " + bytes_str(c->reply_text);
  }
  return std::string("unexpected method ") + amqp_method_name(m.id);
}

std::string describe(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply from the broker";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION: return describe_method(r.reply);
  }
  return "unknown reply type " + std::to_string(static_cast<int>(r.reply_type));
}

void check(const amqp_rpc_reply_t& r, const std::string& step) {
  if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(step + ": " + describe(r));
}

void check_status(int status, const std::string& step) {
  if (status != AMQP_STATUS_OK) throw std::runtime_error(step + ": " + amqp_error_string2(status));
}

// --- connection --------------------------------------------------------------------------------

// One AMQP connection as guest/guest on the default vhost, with channel 1 open.
class Connection {
 public:
  Connection(const Options& o, std::string name) : name_(std::move(name)) {
    conn_ = amqp_new_connection();
    if (conn_ == nullptr) throw std::runtime_error(step("creating the connection"));
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr) throw std::runtime_error(step("creating the socket"));
    check_status(amqp_socket_open(socket, o.host.c_str(), o.port),
                 step("connecting to " + o.host + ":" + std::to_string(o.port)));
    check(amqp_login(conn_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
          step("logging in as guest"));
    amqp_channel_open(conn_, kChannel);
    check(amqp_get_rpc_reply(conn_), step("opening channel 1"));
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { amqp_destroy_connection(conn_); }  // also closes the socket

  // Orderly close: channel, then connection.
  void close() {
    check(amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS), step("closing the channel"));
    check(amqp_connection_close(conn_, AMQP_REPLY_SUCCESS), step("closing the connection"));
  }

  // Waits up to `timeout` until a frame may be read without blocking (frames or bytes already
  // buffered, or the socket readable). ppoll rather than the library's millisecond poll, so an
  // open-loop publisher can wait for its next due time without spinning.
  bool wait_readable(Clock::duration timeout) const {
    if (amqp_frames_enqueued(conn_) || amqp_data_in_buffer(conn_)) return true;
    const auto ns = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
    const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    pollfd p{amqp_get_sockfd(conn_), POLLIN, 0};
    const int n = ppoll(&p, 1, &ts, nullptr);
    if (n < 0 && errno != EINTR) throw std::runtime_error(step(std::string("waiting for the socket: ") + std::strerror(errno)));
    return n > 0;
  }

  std::string step(const std::string& what) const { return name_ + ": " + what; }
  amqp_connection_state_t get() const { return conn_; }

 private:
  std::string name_;
  amqp_connection_state_t conn_ = nullptr;
};

amqp_bytes_t as_bytes(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string queue_name(int i) { return kQueuePrefix + std::to_string(i); }

// Declares the exchange and the queues, binds them and empties them. The exchange is deleted
// first so that queues bound by an earlier run with more queues no longer receive anything.
void set_up(const Options& o) {
  Connection c(o, "setup");
  const auto ex = amqp_cstring_bytes(kExchange);
  amqp_exchange_delete(c.get(), kChannel, ex, 0);
  check(amqp_get_rpc_reply(c.get()), c.step(std::string("deleting the exchange ") + kExchange));
  amqp_exchange_declare(c.get(), kChannel, ex, amqp_cstring_bytes("fanout"), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  check(amqp_get_rpc_reply(c.get()), c.step(std::string("declaring the durable fanout exchange ") + kExchange));
  for (int i = 0; i < o.queues; ++i) {
    const auto q = queue_name(i);
    amqp_queue_declare(c.get(), kChannel, as_bytes(q), /*passive=*/0, /*durable=*/1, /*exclusive=*/0,
                       /*auto_delete=*/0, amqp_empty_table);
    check(amqp_get_rpc_reply(c.get()), c.step("declaring the durable queue " + q));
    amqp_queue_bind(c.get(), kChannel, as_bytes(q), ex, amqp_empty_bytes, amqp_empty_table);
    check(amqp_get_rpc_reply(c.get()), c.step("binding " + q + " to " + kExchange));
    amqp_queue_purge(c.get(), kChannel, as_bytes(q));
    check(amqp_get_rpc_reply(c.get()), c.step("purging " + q));
  }
  c.close();
}

// --- shared state ------------------------------------------------------------------------------

struct Shared {
  std::atomic<bool> failed{false};
  std::atomic<int> consumers_ready{0};
  // Set by the publisher once every message is settled: how many were confirmed, and until when
  // the consumers may take to deliver them (steady clock, ns).
  std::atomic<std::uint64_t> confirmed{0};
  std::atomic<std::int64_t> consume_deadline_ns{0};
  std::atomic<bool> publisher_done{false};

  std::mutex mu;
  std::string error;  // the first failure

  void fail(const std::string& what) {
    std::lock_guard lock(mu);
    if (error.empty()) error = what;
    failed = true;
  }
};

// --- publisher ---------------------------------------------------------------------------------

struct PublisherResult {
  std::uint64_t published = 0, confirmed = 0, nacked = 0;
  std::uint64_t due_unsent = 0;  // open loop: messages due before the end that the window held back
  Clock::time_point start, stop;
  Histogram confirm_latency;
};

class Publisher {
 public:
  Publisher(const Options& o, const std::string& body, Shared& shared)
      : o_(o), body_(body), shared_(shared), conn_(o, "publisher"), due_(static_cast<std::size_t>(o.window), -1) {
    amqp_confirm_select(conn_.get(), kChannel);
    check(amqp_get_rpc_reply(conn_.get()), conn_.step("enabling publisher confirms (confirm.select)"));
  }

  PublisherResult run() {
    amqp_table_entry_t sent_header{};
    sent_header.key = amqp_cstring_bytes(kSentHeader);
    sent_header.value.kind = AMQP_FIELD_KIND_I64;
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    props.content_type = amqp_cstring_bytes("application/xml");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.headers.num_entries = 1;
    props.headers.entries = &sent_header;
    const auto exchange = amqp_cstring_bytes(kExchange);
    const auto payload = as_bytes(body_);
    const auto window = static_cast<std::uint64_t>(o_.window);

    r_.start = Clock::now();
    const auto end = r_.start + std::chrono::seconds(o_.seconds);
    // Open loop: message number i (from 0) is due at start + i / rate.
    const auto due_at = [&](std::uint64_t i) {
      return r_.start + std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / o_.rate));
    };
    bool publishing = true;
    Clock::time_point drain_deadline;
    while (!shared_.failed) {
      const auto now = Clock::now();
      if (publishing && now >= end) {
        publishing = false;
        r_.stop = now;
        drain_deadline = now + kDrainTimeout;
        if (o_.rate > 0) {
          const auto due_by_end = static_cast<std::uint64_t>(static_cast<double>(o_.seconds) * o_.rate);
          r_.due_unsent = due_by_end > r_.published ? due_by_end - r_.published : 0;
        }
      }
      if (!publishing && lowest_ == next_tag_) break;  // everything settled
      if (!publishing && now >= drain_deadline) {
        throw std::runtime_error(conn_.step(std::to_string(next_tag_ - lowest_) + " messages still unconfirmed " +
                                            std::to_string(kDrainTimeout.count()) + " s after publishing stopped"));
      }

      Clock::duration wait = 0ns;
      if (publishing && next_tag_ - lowest_ < window) {
        auto stamp = now;
        if (o_.rate > 0) stamp = due_at(next_tag_ - 1);
        if (stamp <= now) {
          sent_header.value.value.i64 = ns_of(stamp);
          check_status(amqp_basic_publish(conn_.get(), kChannel, exchange, amqp_empty_bytes, /*mandatory=*/0,
                                          /*immediate=*/0, &props, payload),
                       conn_.step("publishing (basic.publish)"));
          due_[next_tag_ % window] = ns_of(stamp);
          ++next_tag_;
          ++r_.published;
        } else {
          wait = std::min(stamp, end) - now;  // until the next message is due
        }
      } else if (publishing) {
        wait = end - now;  // the window is full: until a confirm arrives
      } else {
        wait = drain_deadline - now;
      }
      read_confirms(std::min<Clock::duration>(wait, 100ms));  // bounded, to notice a failure elsewhere
    }
    r_.confirmed = confirmed_;
    r_.nacked = nacked_;
    conn_.close();
    return std::move(r_);
  }

 private:
  // Handles the frames that arrive within `wait`, then whatever else is already readable.
  void read_confirms(Clock::duration wait) {
    while (conn_.wait_readable(wait)) {
      wait = 0ns;
      amqp_frame_t f;
      const timeval zero{0, 0};
      const int status = amqp_simple_wait_frame_noblock(conn_.get(), &f, &zero);
      if (status == AMQP_STATUS_TIMEOUT) return;  // only part of a frame has arrived
      check_status(status, conn_.step("reading confirms"));
      if (f.frame_type != AMQP_FRAME_METHOD) {
        throw std::runtime_error(conn_.step("unexpected frame of type " + std::to_string(f.frame_type)));
      }
      const auto at = now_ns();
      switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
          const auto* ack = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
          settle(ack->delivery_tag, ack->multiple != 0, true, at);
          break;
        }
        case AMQP_BASIC_NACK_METHOD: {
          const auto* nack = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
          settle(nack->delivery_tag, nack->multiple != 0, false, at);
          break;
        }
        default: throw std::runtime_error(conn_.step(describe_method(f.payload.method)));
      }
    }
  }

  // Settles one delivery tag, or with `multiple` every outstanding tag up to it (0: all).
  void settle(std::uint64_t tag, bool multiple, bool ok, std::int64_t at) {
    if (tag >= next_tag_ || (tag == 0 && !multiple)) {
      throw std::runtime_error(conn_.step("confirm for delivery tag " + std::to_string(tag) + ", only " +
                                          std::to_string(next_tag_ - 1) + " published"));
    }
    const auto window = static_cast<std::uint64_t>(o_.window);
    const auto settle_one = [&](std::uint64_t t) {
      auto& due = due_[t % window];
      if (due < 0) return;  // already settled
      if (ok) {
        ++confirmed_;
        r_.confirm_latency.record(at - due);
      } else {
        ++nacked_;
      }
      due = -1;
    };
    if (multiple) {
      const auto last = tag == 0 ? next_tag_ - 1 : tag;
      for (auto t = lowest_; t <= last; ++t) settle_one(t);
    } else if (tag >= lowest_) {
      settle_one(tag);
    }
    while (lowest_ < next_tag_ && due_[lowest_ % window] < 0) ++lowest_;
  }

  const Options& o_;
  const std::string& body_;
  Shared& shared_;
  Connection conn_;
  // Outstanding messages by delivery tag modulo the window: due/send time in ns, -1 once settled.
  // Tags lowest_ .. next_tag_-1 span at most the window, so no two outstanding tags share a slot.
  std::vector<std::int64_t> due_;
  std::uint64_t next_tag_ = 1;  // delivery tags count from 1 on a channel in confirm mode
  std::uint64_t lowest_ = 1;    // the lowest tag not yet settled (== next_tag_ when none)
  std::uint64_t confirmed_ = 0, nacked_ = 0;
  PublisherResult r_;
};

// --- consumer ----------------------------------------------------------------------------------

struct ConsumerResult {
  std::uint64_t consumed = 0;
  Clock::time_point finished;  // when the last message was received
  Histogram e2e_latency;
};

std::int64_t sent_ns_of(const amqp_envelope_t& env) {
  const auto& p = env.message.properties;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const auto& e = p.headers.entries[i];
      if (bytes_str(e.key) == kSentHeader && e.value.kind == AMQP_FIELD_KIND_I64) return e.value.value.i64;
    }
  }
  throw std::runtime_error(std::string("a message without an integer ") + kSentHeader + " header");
}

ConsumerResult consume(const Options& o, int index, Shared& shared) {
  const auto queue = queue_name(index);
  Connection c(o, "consumer of " + queue);
  amqp_basic_qos(c.get(), kChannel, 0, kPrefetch, /*global=*/0);
  check(amqp_get_rpc_reply(c.get()), c.step("setting the prefetch (basic.qos)"));
  amqp_basic_consume(c.get(), kChannel, as_bytes(queue), amqp_empty_bytes, /*no_local=*/0, /*no_ack=*/0,
                     /*exclusive=*/0, amqp_empty_table);
  check(amqp_get_rpc_reply(c.get()), c.step("starting to consume (basic.consume)"));
  ++shared.consumers_ready;

  ConsumerResult r;
  std::uint64_t last_tag = 0;
  int unacked = 0;
  const auto ack = [&] {
    if (unacked == 0) return;
    check_status(amqp_basic_ack(c.get(), kChannel, last_tag, /*multiple=*/1), c.step("acknowledging (basic.ack)"));
    unacked = 0;
  };
  while (!shared.failed) {
    if (shared.publisher_done.load()) {
      if (r.consumed >= shared.confirmed.load()) break;
      if (now_ns() > shared.consume_deadline_ns.load()) {
        throw std::runtime_error(c.step("only " + std::to_string(r.consumed) + " of " +
                                        std::to_string(shared.confirmed.load()) + " confirmed messages consumed " +
                                        std::to_string(kDrainTimeout.count()) + " s after the last confirm"));
      }
    }
    amqp_maybe_release_buffers(c.get());
    amqp_envelope_t env;
    const timeval tick{0, 100'000};
    const auto reply = amqp_consume_message(c.get(), &env, &tick, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) {
      ack();
      continue;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Something other than a delivery, such as the broker closing the channel.
      amqp_frame_t f;
      check_status(amqp_simple_wait_frame(c.get(), &f), c.step("reading a frame"));
      if (f.frame_type != AMQP_FRAME_METHOD) {
        throw std::runtime_error(c.step("unexpected frame of type " + std::to_string(f.frame_type)));
      }
      throw std::runtime_error(c.step(describe_method(f.payload.method)));
    }
    check(reply, c.step("receiving a message (basic.deliver)"));
    const auto received = Clock::now();
    const auto at = ns_of(received);
    std::int64_t sent = 0;
    try {
      sent = sent_ns_of(env);
    } catch (...) {
      amqp_destroy_envelope(&env);
      throw;
    }
    r.e2e_latency.record(at - sent);
    ++r.consumed;
    r.finished = received;
    last_tag = env.delivery_tag;
    ++unacked;
    amqp_destroy_envelope(&env);
    if (unacked >= kAckBatch || (!amqp_frames_enqueued(c.get()) && !amqp_data_in_buffer(c.get()))) ack();
  }
  ack();
  if (!shared.failed) c.close();
  return r;
}

// --- report ------------------------------------------------------------------------------------

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string summary(const Histogram& h) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms", ms(h.percentile(50)),
                ms(h.percentile(99)), ms(h.percentile(99.9)), ms(h.max()));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n" << kUsage;
    return 2;
  }
  try {
    const auto body = cjhub::bench::slurp(o.file);
    set_up(o);

    Shared shared;
    std::vector<ConsumerResult> consumed(static_cast<std::size_t>(o.queues));
    std::vector<std::thread> consumers;
    for (int i = 0; i < o.queues; ++i) {
      consumers.emplace_back([&, i] {
        try {
          consumed[static_cast<std::size_t>(i)] = consume(o, i, shared);
        } catch (const std::exception& e) {
          shared.fail(e.what());
        }
      });
    }
    while (shared.consumers_ready.load() < o.queues && !shared.failed) std::this_thread::sleep_for(1ms);

    PublisherResult published;
    if (!shared.failed) {
      try {
        Publisher p(o, body, shared);
        published = p.run();
        shared.confirmed = published.confirmed;
        shared.consume_deadline_ns = ns_of(Clock::now() + kDrainTimeout);
        shared.publisher_done = true;
      } catch (const std::exception& e) {
        shared.fail(e.what());
      }
    }
    for (auto& t : consumers) t.join();
    if (shared.failed) {
      std::cerr << "error: " << shared.error << "\n";
      return 1;
    }

    Histogram e2e;
    std::uint64_t total = 0;
    auto all_consumed = published.stop;
    std::string per_queue;
    for (const auto& c : consumed) {
      e2e.merge(c.e2e_latency);
      total += c.consumed;
      all_consumed = std::max(all_consumed, c.finished);
      per_queue += (per_queue.empty() ? "" : " ") + std::to_string(c.consumed);
    }
    const double pub_s = seconds_between(published.start, published.stop);
    const double all_s = seconds_between(published.start, all_consumed);
    const auto& cl = published.confirm_latency;

    std::cout << "rabbitmq: " << o.queues << " durable queues on fanout exchange " << kExchange << ", payload "
              << body.size() << " bytes, window " << o.window << ", "
              << (o.rate > 0 ? "open loop at " + std::to_string(o.rate) + " msg/s" : std::string("closed loop"))
              << "\n";
    std::cout << "published " << published.published << " in " << pub_s << " s, confirmed " << published.confirmed
              << ", nacked " << published.nacked;
    if (o.rate > 0) std::cout << ", due but held back by the window " << published.due_unsent;
    std::cout << "\nconfirm latency: " << summary(cl) << "\n";
    std::cout << "consumed per queue: " << per_queue << ", all consumed " << all_s << " s after the start\n";
    std::cout << "publish-to-consume latency: " << summary(e2e) << "\n";

    char line[512];
    std::snprintf(line, sizeof line,
                  "rabbitmq published=%llu confirmed=%llu consumed=%llu seconds=%.2f msgs_per_s=%lld "
                  "deliveries_per_s=%lld confirm_p50_ms=%.3f confirm_p99_ms=%.3f e2e_p50_ms=%.3f e2e_p99_ms=%.3f "
                  "e2e_p999_ms=%.3f",
                  static_cast<unsigned long long>(published.published),
                  static_cast<unsigned long long>(published.confirmed), static_cast<unsigned long long>(total), pub_s,
                  std::llround(static_cast<double>(published.confirmed) / pub_s),
                  std::llround(static_cast<double>(total) / all_s), ms(cl.percentile(50)),
                  ms(cl.percentile(99)), ms(e2e.percentile(50)), ms(e2e.percentile(99)), ms(e2e.percentile(99.9)));
    std::cout << line << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
