#include "cjhub/sink/sink.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <system_error>

#include "cjhub/api/problem.hpp"
#include "cjhub/common/crypto.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/common/xml_text.hpp"
#include "cjhub/ingress/server.hpp"
#include "cjhub/ingress/tls.hpp"
#include "cjhub/sink/ack_poster.hpp"

namespace cjhub::sink {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kAckCacheSize = 10000;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

// Header values are visible ASCII on the wire; anything else is shown as '?' in the log.
std::string printable(std::string_view v) {
  std::string s(v);
  for (auto& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) c = '?';
  }
  return s;
}

bool is_2xx(unsigned s) { return s >= 200 && s < 300; }

api::Response simulated(unsigned status, const std::string& detail, unsigned retry_after_s) {
  api::Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = json::serialize(json::object{{"type", "urn:cjhub:sink:simulated"},
                                        {"title", "Simulated answer of cjhub sink"},
                                        {"status", status},
                                        {"detail", detail}});
  if (status == 503 || status == 429) r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

void write_atomically(const fs::path& file, const std::string& body) {
  const auto tmp = fs::path(file.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  }
  fs::rename(tmp, file);
}

}  // namespace

const char* to_string(AckMode m) noexcept {
  switch (m) {
    case AckMode::none: return "none";
    case AckMode::sync: return "sync";
    case AckMode::async: return "async";
  }
  return "?";
}

std::optional<AckMode> parse_ack_mode(std::string_view s) {
  if (s == "none") return AckMode::none;
  if (s == "sync") return AckMode::sync;
  if (s == "async") return AckMode::async;
  return std::nullopt;
}

std::optional<std::pair<std::string, unsigned short>> parse_listen(std::string_view s) {
  std::string host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return std::nullopt;
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  unsigned value = 0;
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || err != std::errc{} || end != port.data() + port.size() || value > 65535) return std::nullopt;
  return std::make_pair(host, static_cast<unsigned short>(value));
}

std::string validate(const SinkOptions& o) {
  if (!parse_listen(o.listen)) return "--listen: expected IP:PORT or [IPv6]:PORT, got \"" + o.listen + "\"";
  if (o.cert.empty() || o.key.empty() || o.ca.empty()) return "--cert, --key and --ca are required";
  if (o.ori.empty() || o.ori.size() > 32 ||
      !std::all_of(o.ori.begin(), o.ori.end(), [](unsigned char c) { return std::isalnum(c) != 0; })) {
    return "--ori: expected the agency's ORI (letters and digits, at most 32), got \"" + o.ori + "\"";
  }
  if (o.threads < 1 || o.threads > 64) return "--threads: must be between 1 and 64";
  if (o.ack_status != "received" && o.ack_status != "completed") {
    return "--ack-status: must be received or completed";
  }
  if (o.duplicate_status != 0 && (o.duplicate_status < 400 || o.duplicate_status > 599)) {
    return "--duplicate-status: must be a 4xx or 5xx status";
  }
  if (o.ack == AckMode::async) {
    if (o.client_cert.empty() || o.client_key.empty()) {
      return "--ack async needs --client-cert and --client-key (the agency's client certificate)";
    }
    if (!parse_https_url(o.hub_url)) return "--hub-url: expected https://host[:port], got \"" + o.hub_url + "\"";
  }
  if (!(o.fail_rate >= 0.0 && o.fail_rate <= 1.0)) return "--fail-rate: must be between 0 and 1";
  if (o.status != 0 && (o.status < 200 || o.status > 599)) return "--status: must be between 200 and 599";
  if (o.outage_after.has_value() != o.outage_for.has_value()) {
    return "--outage-after-s and --outage-for-s go together";
  }
  if (o.latency.count() < 0 || o.ack_delay.count() < 0) return "delays cannot be negative";
  return {};
}

std::optional<std::string> find_header(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

Headers headers_of(const api::Request& req) { return Headers(req.headers.begin(), req.headers.end()); }

DeliveryHeaders DeliveryHeaders::from(const Headers& h) {
  DeliveryHeaders d;
  auto get = [&](std::string_view n) { return printable(find_header(h, n).value_or("")); };
  d.message_id = get("Cjhub-Message-Id");
  d.delivery_id = get("Cjhub-Delivery-Id");
  d.message_type = get("Cjhub-Message-Type");
  d.sender_ori = get("Cjhub-Sender-Ori");
  if (auto c = find_header(h, "Cjhub-Case-Key")) d.case_key = printable(*c);
  const auto attempt = get("Cjhub-Attempt");
  long n = 0;
  const auto [end, ec] = std::from_chars(attempt.data(), attempt.data() + attempt.size(), n);
  d.attempt = (ec == std::errc{} && end == attempt.data() + attempt.size() && n >= 0) ? n : 0;
  d.ack_required = iequals(get("Cjhub-Ack-Required"), "true");
  if (auto r = find_header(h, "X-Request-Id")) d.request_id = printable(*r);
  return d;
}

std::string acknowledgement_xml(const std::string& ack_id, const std::string& message_id, const std::string& ori,
                                const std::string& status, SystemTime created) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(created);
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ciss:Acknowledgement xmlns:ciss=\"http://cjhub.example.org/ciss/1.0/\" "
      "xmlns:nc=\"http://release.niem.gov/niem/niem-core/5.0/\" "
      "xmlns:j=\"http://release.niem.gov/niem/domains/jxdm/7.2/\">\n"
      " <ciss:MessageMetadata>\n"
      "  <nc:DocumentIdentification><nc:IdentificationID>{}</nc:IdentificationID></nc:DocumentIdentification>\n"
      "  <nc:DocumentCreationDate><nc:DateTime>{}</nc:DateTime></nc:DocumentCreationDate>\n"
      "  <j:OrganizationORIIdentification><nc:IdentificationID>{}</nc:IdentificationID>"
      "</j:OrganizationORIIdentification>\n"
      " </ciss:MessageMetadata>\n"
      " <ciss:ReferencedMessageIdentification><nc:IdentificationID>{}</nc:IdentificationID>"
      "</ciss:ReferencedMessageIdentification>\n"
      " <ciss:AcknowledgementStatusCode>{}</ciss:AcknowledgementStatusCode>\n"
      "</ciss:Acknowledgement>\n",
      xml_text(ack_id), rfc3339(SystemTime(secs)).substr(0, 19) + "Z", xml_text(ori), xml_text(message_id),
      xml_text(status));
}

// ---------------------------------------------------------------------------------------------
LineLog::LineLog(const fs::path& file) {
  if (file.empty()) {
    f_ = stdout;
    return;
  }
  f_ = std::fopen(file.c_str(), "a");
  if (f_ == nullptr) throw std::runtime_error(fmt::format("--log: cannot open {}: {}", file.string(), std::strerror(errno)));
  owned_ = true;
}

LineLog::~LineLog() {
  if (owned_ && f_ != nullptr) std::fclose(f_);
}

void LineLog::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fputc('\n', f_);
  std::fflush(f_);
}

// ---------------------------------------------------------------------------------------------
SinkHandler::SinkHandler(SinkOptions opts)
    : opts_(std::move(opts)),
      seed_(opts_.seed ? *opts_.seed : std::random_device{}()),
      started_at_(Clock::now()) {}

SinkHandler::~SinkHandler() { stop(Clock::now()); }

void SinkHandler::start() {
  log_ = std::make_unique<LineLog>(opts_.log_file);
  if (!opts_.dir.empty()) {
    std::error_code ec;
    fs::create_directories(opts_.dir, ec);
    if (ec || !fs::is_directory(opts_.dir)) {
      throw std::runtime_error(fmt::format("--dir: cannot create {}: {}", opts_.dir.string(), ec.message()));
    }
  }
  if (opts_.ack == AckMode::async) {
    AckPosterSettings s;
    s.hub_url = opts_.hub_url;
    s.client_cert = opts_.client_cert;
    s.client_key = opts_.client_key;
    s.ca = opts_.ca;
    s.sink_ori = opts_.ori;
    s.give_up_after = opts_.ack_give_up_after;
    poster_ = std::make_unique<AckPoster>(std::move(s), [this](const std::string& line) { log_->write(line); });
    poster_->start();
  }
  timers_ = std::make_unique<asio::io_context>(1);
  timers_work_.emplace(asio::make_work_guard(*timers_));
  timer_thread_ = std::thread([this] { timers_->run(); });
  started_at_ = Clock::now();
}

void SinkHandler::stop(Clock::time_point deadline) {
  if (poster_) {
    poster_->stop(deadline);
    poster_.reset();
  }
  if (timers_) {
    timers_work_.reset();
    timers_->stop();
    if (timer_thread_.joinable()) timer_thread_.join();
    timers_.reset();  // drops delayed answers still pending (their connections are gone)
  }
  std::lock_guard lock(mutex_);
  held_.clear();  // --hang: release the connections' sessions while their server still exists
}

bool SinkHandler::fail_draw(const DeliveryHeaders& d) {
  if (opts_.fail_rate <= 0.0) return false;
  if (opts_.fail_rate >= 1.0) return true;
  // Deterministic per (seed, delivery, attempt): the same run answers the same way whatever the
  // order of concurrent requests, and every retry is a new draw.
  const auto key = d.delivery_id.empty() ? fmt::format("{}:#{}", seed_, sequence_.fetch_add(1))
                                         : fmt::format("{}:{}:{}", seed_, d.delivery_id, d.attempt);
  const auto h = sha256(key);
  std::uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = (x << 8) | h[static_cast<std::size_t>(i)];
  const double u = static_cast<double>(x >> 11) * 0x1.0p-53;
  return u < opts_.fail_rate;
}

bool SinkHandler::in_outage() const {
  if (!opts_.outage_after || !opts_.outage_for) return false;
  const auto since = Clock::now() - started_at_;
  return since >= *opts_.outage_after && since < *opts_.outage_after + *opts_.outage_for;
}

std::string SinkHandler::ack_body(const std::string& delivery_id, const std::string& message_id) {
  std::lock_guard lock(mutex_);
  if (auto it = ack_cache_.find(delivery_id); it != ack_cache_.end()) return it->second;
  auto body = acknowledgement_xml("ACK-" + delivery_id, message_id, opts_.ori, opts_.ack_status, now_utc());
  ack_cache_.emplace(delivery_id, body);
  ack_cache_order_.push_back(delivery_id);
  if (ack_cache_order_.size() > kAckCacheSize) {
    ack_cache_.erase(ack_cache_order_.front());
    ack_cache_order_.pop_front();
  }
  return body;
}

std::size_t SinkHandler::erase_case(const std::string& case_key) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(opts_.dir)) {
    if (entry.path().extension() != ".case") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (key != case_key) continue;
    auto body = entry.path();
    body.replace_extension(".xml");
    std::error_code ec;
    if (fs::remove(body, ec)) ++n;
    if (ec) throw std::runtime_error(fmt::format("cannot delete {}: {}", body.string(), ec.message()));
    fs::remove(entry.path(), ec);
    if (ec) throw std::runtime_error(fmt::format("cannot delete {}: {}", entry.path().string(), ec.message()));
  }
  return n;
}

std::string SinkHandler::log_line(const api::Request& req, const DeliveryHeaders& d, unsigned status) const {
  json::object o;
  o["t"] = rfc3339(req.received_at.time_since_epoch().count() != 0 ? req.received_at : now_utc());
  o["delivery_id"] = d.delivery_id;
  o["message_id"] = d.message_id;
  o["attempt"] = d.attempt;
  o["message_type"] = d.message_type;
  o["sender_ori"] = d.sender_ori;
  const bool hashed = opts_.ack_status == "completed";  // a sink that confirms deletion names no case
  const char* case_field = hashed ? "case_key_sha256" : "case_key";
  if (d.case_key) {
    o[case_field] = hashed ? to_hex(sha256(*d.case_key)) : *d.case_key;
  } else {
    o[case_field] = nullptr;
  }
  o["ack_required"] = d.ack_required;
  o["sha256"] = to_hex(sha256(req.body));
  o["bytes"] = req.body.size();
  o["status"] = status;
  o["sink_ori"] = opts_.ori;
  if (d.request_id) {
    o["request_id"] = *d.request_id;
  } else {
    o["request_id"] = nullptr;
  }
  return json::serialize(o);
}

Decision SinkHandler::decide(const api::Request& req, const Headers& headers) {
  Decision out;
  auto& r = out.response;
  const auto path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (path == "/healthz") {
    if (req.method != "GET") {
      r = api::method_not_allowed("GET", "/healthz");
      r.headers.emplace_back("Allow", "GET");
      return out;
    }
    r.body = json::serialize(
        json::object{{"status", "ok"}, {"received", stats_.received.load()}, {"probes", stats_.probes.load()}});
    return out;
  }
  if (req.method == "OPTIONS") {
    // The hub's probe of an idle endpoint (docs/openapi.yaml, webhooks): answered like a delivery
    // would be as far as the simulated faults go, else 204.
    if (opts_.hang) {
      out.answer = false;
    } else if (opts_.status != 0 && !is_2xx(opts_.status)) {
      r = simulated(opts_.status, fmt::format("this sink answers {} to every request (--status)", opts_.status),
                    opts_.retry_after_s);
    } else if (in_outage()) {
      r = simulated(503, "simulated outage (--outage-after-s/--outage-for-s)", opts_.retry_after_s);
    } else {
      r.status = 204;
      r.headers.emplace_back("Allow", "POST, OPTIONS");
    }
    stats_.probes.fetch_add(1);
    return out;
  }
  if (req.method != "POST") {
    r = api::method_not_allowed("POST", "");
    r.headers.emplace_back("Allow", "POST, OPTIONS");
    return out;
  }

  stats_.received.fetch_add(1);
  const auto d = DeliveryHeaders::from(headers);
  const bool from_hub = std::any_of(req.peer.san_uris.begin(), req.peer.san_uris.end(), [&](const std::string& u) {
    return std::find(opts_.hub_uris.begin(), opts_.hub_uris.end(), u) != opts_.hub_uris.end();
  });
  if (!from_hub) {
    log::warn(log::get("sink"), {{"peer", req.remote}, {"request_id", req.request_id}},
              "refused a delivery from {} (certificate {}): not the hub's certificate", req.remote,
              req.peer.san_uris.empty() ? req.peer.subject : req.peer.san_uris.front());
    r = api::problem(api::Problem::forbidden, "deliveries are accepted only from the hub's certificate");
  } else if (opts_.hang) {
    out.answer = false;
  } else if (opts_.status != 0 && !is_2xx(opts_.status)) {
    r = simulated(opts_.status, fmt::format("this sink answers {} to every delivery (--status)", opts_.status),
                  opts_.retry_after_s);
  } else if (in_outage()) {
    r = simulated(503, "simulated outage (--outage-after-s/--outage-for-s)", opts_.retry_after_s);
  } else if (fail_draw(d)) {
    r = simulated(503, "simulated failure (--fail-rate)", opts_.retry_after_s);
  } else if (!Uuid::parse(d.delivery_id)) {
    r = api::problem(api::Problem::bad_request, "Cjhub-Delivery-Id is missing or not a UUID");
  } else if (!Uuid::parse(d.message_id)) {
    r = api::problem(api::Problem::bad_request, "Cjhub-Message-Id is missing or not a UUID");
  } else if (refused_.load() < opts_.refuse_first && refused_.fetch_add(1) < opts_.refuse_first) {
    r = simulated(400, fmt::format("this sink refuses its first {} deliveries (--refuse-first)", opts_.refuse_first),
                  opts_.retry_after_s);
  } else if (opts_.duplicate_status != 0 && [&] {
               std::lock_guard lock(mutex_);
               return !answered_.insert(d.message_id).second;
             }()) {
    r = simulated(opts_.duplicate_status,
                  fmt::format("message {} was received already (--duplicate-status)", d.message_id),
                  opts_.retry_after_s);
  } else if (opts_.answer_body) {
    r.status = 200;
    r.content_type = opts_.answer_content_type;
    r.body = *opts_.answer_body;
    for (const auto& [token, value] : {std::pair<std::string, std::string>{"{message_id}", d.message_id},
                                       {"{delivery_id}", d.delivery_id}}) {
      for (auto p = r.body.find(token); p != std::string::npos; p = r.body.find(token, p + value.size())) {
        r.body.replace(p, token.size(), value);
      }
    }
  } else {
    r.status = opts_.status != 0 ? opts_.status : 200;
    r.content_type = "text/plain; charset=utf-8";
    bool stored = true;
    const bool wants_ack = opts_.ack != AckMode::none && (d.ack_required || opts_.ack_all);
    if (!opts_.dir.empty()) {
      try {
        // "completed" is a promise that the case's data is gone: delete before confirming.
        if (wants_ack && d.ack_required && opts_.ack_status == "completed" && d.case_key) {
          const auto n = erase_case(*d.case_key);
          log::get("sink")->info("erasure {}: deleted {} stored message(s) of the case", d.delivery_id, n);
        }
        write_atomically(opts_.dir / (d.delivery_id + ".xml"), req.body);
        if (d.case_key) write_atomically(opts_.dir / (d.delivery_id + ".case"), *d.case_key);
      } catch (const std::exception& e) {
        log::error(log::get("sink"), {{"delivery_id", d.delivery_id}, {"message_id", d.message_id}},
                   "cannot store delivery {}: {}", d.delivery_id, e.what());
        r = api::problem(api::Problem::internal_error, "the sink could not store the message");
        stored = false;
      }
    }
    if (stored && wants_ack) {
      auto body = ack_body(d.delivery_id, d.message_id);
      if (opts_.ack == AckMode::sync) {
        if (r.status != 204) {
          r.content_type = "application/xml";
          r.body = std::move(body);
          stats_.acks_sync.fetch_add(1);
        }
      } else {
        out.async_ack = Decision::Ack{d.delivery_id, d.message_id, "ACK-" + d.delivery_id, std::move(body)};
      }
    }
  }
  if (opts_.close_connections) r.close = true;  // Connection: close, a new connection per delivery
  const unsigned status = out.answer ? r.status : 0;
  (is_2xx(status) ? stats_.answered_2xx : stats_.answered_error).fetch_add(1);
  out.delay = opts_.latency;
  out.log_line = log_line(req, d, status);
  return out;
}

void SinkHandler::handle(api::Request req, api::Respond respond) {
  const auto headers = headers_of(req);
  handle(std::move(req), headers, std::move(respond));
}

void SinkHandler::handle(api::Request req, const Headers& headers, api::Respond respond) {
  if (!log_ || !timers_) throw std::logic_error("SinkHandler::handle called before start()");
  auto d = decide(req, headers);
  if (!d.log_line.empty()) log_->write(d.log_line);  // before the answer leaves
  if (d.async_ack && poster_) {
    stats_.acks_async.fetch_add(1);
    poster_->submit(AckJob{std::move(d.async_ack->delivery_id), std::move(d.async_ack->message_id),
                           std::move(d.async_ack->ack_id), std::move(d.async_ack->body),
                           Clock::now() + opts_.ack_delay});
  }
  if (!d.answer) {
    std::lock_guard lock(mutex_);
    held_.push_back(std::move(respond));
    return;
  }
  if (d.log_line.empty() || d.delay.count() <= 0) return respond(std::move(d.response));
  // --latency: answer from the timer thread; the I/O thread is not held.
  auto timer = std::make_shared<asio::steady_timer>(*timers_, d.delay);
  timer->async_wait([timer, respond = std::move(respond), res = std::move(d.response)](
                        const boost::system::error_code&) mutable { respond(std::move(res)); });
}

// ---------------------------------------------------------------------------------------------
int run_sink(const SinkOptions& opts) {
  if (auto err = validate(opts); !err.empty()) {
    std::cerr << "cjhub sink: " << err << "\n";
    return 2;
  }
  log::setup(log::Settings{});
  auto lg = log::get("sink");
  ::signal(SIGPIPE, SIG_IGN);

  const auto [address, port] = *parse_listen(opts.listen);
  ingress::ServerSettings settings;
  settings.listener.address = address;
  settings.listener.port = port;
  settings.tls.server_cert = opts.cert;
  settings.tls.server_key = opts.key;
  settings.tls.client_ca = opts.ca;
  settings.tls.crl = opts.crl;
  settings.io_threads = opts.threads;
  settings.limits.max_body_bytes = opts.max_body_bytes;
  settings.limits.max_request_bytes = opts.max_body_bytes;
  settings.name = "sink " + opts.ori;
  try {
    ingress::make_server_context(settings.tls);  // report unusable certificate files as usage errors
  } catch (const std::exception& e) {
    // The ingress layer names the configuration keys; name the flags instead.
    std::string what = e.what();
    for (const auto& [key, flag] : {std::pair<std::string, std::string>{"tls.server_cert", "--cert"},
                                    {"tls.server_key", "--key"},
                                    {"tls.client_ca", "--ca"},
                                    {"tls.crl", "--crl"}}) {
      if (const auto at = what.find(key); at != std::string::npos) what.replace(at, key.size(), flag);
    }
    std::cerr << "cjhub sink: " << what << "\n";
    return 2;
  }

  // The signal handlers are installed before anything starts.
  asio::io_context signals_ioc;
  asio::signal_set signals(signals_ioc, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code&, int sig) { received = sig; });

  SinkHandler handler(opts);
  ingress::HttpsServer server(settings, handler);
  Lifecycle lifecycle;
  try {
    lifecycle.start(handler);
  } catch (const std::exception& e) {
    std::cerr << "cjhub sink: " << e.what() << "\n";
    return 2;
  }
  try {
    lifecycle.start(server);
  } catch (const boost::system::system_error& e) {
    std::cerr << "cjhub sink: cannot listen on " << opts.listen << ": " << e.code().message() << "\n";
    lifecycle.stop_all(std::chrono::seconds(2));
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cjhub sink: cannot listen on " << opts.listen << ": " << e.what() << "\n";
    lifecycle.stop_all(std::chrono::seconds(2));
    return 1;
  }
  if (!opts.ready_file.empty()) {
    const auto tmp = opts.ready_file.string() + ".tmp";
    std::ofstream(tmp) << fmt::format("{{\"port\":{},\"pid\":{}}}\n", server.port(), ::getpid());
    std::error_code ec;
    fs::rename(tmp, opts.ready_file, ec);
    if (ec) lg->error("cannot write the ready file {}: {}", opts.ready_file.string(), ec.message());
  }
  lg->info("sink {} ready on {}:{} (ack {}{}, log {}, dir {})", opts.ori, address, server.port(),
           to_string(opts.ack), opts.ack_all ? " for every message" : "",
           opts.log_file.empty() ? "stdout" : opts.log_file.string(),
           opts.dir.empty() ? "none" : opts.dir.string());

  signals_ioc.run();
  lg->info("signal {} received: stopping", received);
  // Answers still delayed by --latency-ms get time to leave; --hang's never will.
  lifecycle.stop_all(opts.hang ? std::chrono::milliseconds(1000)
                               : std::chrono::milliseconds(5000) + opts.latency);
  lg->info("sink stopped");
  return 0;
}

}  // namespace cjhub::sink
