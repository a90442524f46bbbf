// The console in the browser, and what every request a browser makes must carry.
//   GET  /console/            the page (index.html); GET /console/<file> its assets
//   POST /console/session     a session token for this certificate (console::Sessions)
// A request is a browser's when it names a page's origin (`Origin`) or a fetch's mode or site
// (`Sec-Fetch-*`): browsers add these and programs (RMS clients, curl, the hub's own tools) do
// not. Such a request must come from the hub's own origin and carry the console's session token
// (`X-Cjhub-Session`), so a page elsewhere cannot use the certificate a browser presents on its
// own (CSRF), and a console left alone ends after its idle timeout.
#include <boost/json.hpp>

#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/console/assets.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kConsolePrefix = "/console/";
constexpr std::string_view kSessionPath = "/console/session";

// The page may load only what the hub serves, run no inline script and be framed by no one.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const std::string* header(const Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

void add_console_headers(Response& r) {
  r.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

bool from_browser(const Request& req) {
  return header(req, "origin") != nullptr || header(req, "sec-fetch-mode") != nullptr ||
         header(req, "sec-fetch-site") != nullptr;
}

std::optional<Response> Handlers::judge_browser(const Request& req, const std::string& path, bool needs_session,
                                                std::string& refreshed) const {
  // The page's origin must be the hub's own: the origin the browser names, and what it says of
  // the fetch (same-origin; "none" is a user typing the address, which reaches the console's
  // page but, lacking the session's header, no data).
  const auto* origin = header(req, "origin");
  const auto* host = header(req, "host");
  const auto* site = header(req, "sec-fetch-site");
  const bool same_origin = (origin == nullptr || (host != nullptr && iequals(*origin, "https://" + *host))) &&
                           (site == nullptr || iequals(*site, "same-origin") || iequals(*site, "none"));
  if (!same_origin) {
    const auto who = deps_.directory->resolve(req.peer);
    audit(req, who.agency ? who.agency->ori : "", "authorization", "refused:cross-origin", req.method + " " + path,
          "origin " + (origin ? origin->substr(0, 200) : std::string("(none)")) + ", sec-fetch-site " +
              (site ? site->substr(0, 40) : std::string("(none)")));
    log::warn(log::get("api"),
              {{"request_id", req.request_id},
               {"peer", req.remote},
               {"agency", who.agency ? who.agency->ori : std::string()},
               {"status", 403}},
              "refused {} {}: a browser request from another origin", req.method, path);
    return problem(Problem::cross_origin, "this request came from a page the hub did not serve", path);
  }
  if (!needs_session) return std::nullopt;
  const auto* token = header(req, "x-cjhub-session");
  if (deps_.sessions == nullptr) {
    return problem(Problem::session_required, "the console is not enabled on this hub", path);
  }
  const auto check = deps_.sessions->check(token ? *token : std::string_view{}, req.peer.sha256,
                                           now_utc());
  switch (check.verdict) {
    case console::Sessions::Verdict::ok: refreshed = check.refreshed; return std::nullopt;
    case console::Sessions::Verdict::expired:
      return problem(Problem::session_expired,
                     "no request for more than " + std::to_string(deps_.sessions->idle_timeout().count()) + " s",
                     path);
    case console::Sessions::Verdict::missing:
    case console::Sessions::Verdict::invalid: break;
  }
  return problem(Problem::session_required,
                 "send the X-Cjhub-Session header the console obtains from POST /console/session", path);
}

void Handlers::console(const Request& req, const std::string& path, Respond respond) {
  auto answer = [&respond](Response r) {
    add_console_headers(r);
    respond(std::move(r));
  };
  if (path == "/console") {
    Response r;
    r.status = 308;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Location", std::string(kConsolePrefix));
    return answer(std::move(r));
  }
  if (path == kSessionPath) {
    if (req.method != "POST") return answer(method_not_allowed("POST", path));
    std::string unused;
    if (auto refused = judge_browser(req, path, false, unused)) return answer(std::move(*refused));
    Respond wrapped = [answer](Response r) { answer(std::move(r)); };
    const auto who = caller(req, path, wrapped);
    if (!who) return;
    if (deps_.sessions == nullptr || req.peer.sha256.empty()) {
      return answer(problem(Problem::forbidden, "the console is not enabled on this hub", path));
    }
    audit(req, who->ori, "console", "session-started", "", "");
    log::info(log::get("api"),
              {{"request_id", req.request_id}, {"peer", req.remote}, {"agency", who->ori}, {"certificate", req.peer.sha256}},
              "console session started for {} ({})", who->ori, req.peer.subject);
    Response r;
    json::object agency{{"ori", who->ori}, {"name", who->name}, {"operator", who->is_operator()}};
    json::object body{{"token", deps_.sessions->issue(req.peer.sha256, now_utc())},
                      {"agency", std::move(agency)},
                      {"idle_timeout_s", static_cast<std::int64_t>(deps_.sessions->idle_timeout().count())}};
    r.body = json::serialize(body);
    return answer(std::move(r));
  }
  if (req.method != "GET" && req.method != "HEAD") return answer(method_not_allowed("GET", path));
  const auto* asset = console::find_asset(std::string_view(path).substr(kConsolePrefix.size()));
  if (asset == nullptr) return answer(problem(Problem::not_found, "no console file at " + path, path));
  Response r;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->bytes);
  answer(std::move(r));
}

}  // namespace cjhub::api
