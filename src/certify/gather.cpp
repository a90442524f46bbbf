// The kit's evidence: one agency's traffic in the window, from the store, with its documents read
// again by the configured message types and the criteria's fields as extra keys.
#include <fmt/format.h>

#include <iostream>
#include <thread>

#include "cjhub/certify/kit.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/validation/validator.hpp"

namespace cjhub::certify {

namespace {

std::int64_t now_us() { return now_utc().time_since_epoch().count(); }

// The configured types, each with the fields the criteria read in its documents.
std::shared_ptr<const validation::SchemaSet> schemas_with_fields(const config::Config& config,
                                                                 const std::vector<const Criterion*>& criteria) {
  auto specs = config.type_specs();
  for (const auto* c : criteria) {
    if (c->message_type.empty()) continue;
    auto it = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == c->message_type; });
    if (it == specs.end()) {
      throw CriteriaError(fmt::format("{}: message type {} is not configured in this hub", c->id, c->message_type));
    }
    for (const auto& f : c->fields) it->keys.push_back({c->id + "/" + f.name, f.path});
  }
  try {
    validation::Limits limits;
    limits.max_depth = config.limits.max_element_depth;
    limits.max_namespaces = config.limits.max_namespaces;
    limits.max_namespace_uri_length = config.limits.max_namespace_uri_length;
    return validation::SchemaSet::load(std::move(specs), limits);
  } catch (const validation::SchemaLoadError& e) {
    throw CriteriaError(std::string("a criterion's field does not fit its message type: ") + e.what());
  }
}

bool settled(const std::string& state) { return state != "pending" && state != "queued" && state != "in_flight"; }

DuplicateTrial duplicate_trial(store::Connection& conn, const Criterion& c, const KitOptions& opts) {
  DuplicateTrial t;
  t.attempted = true;
  t.sent = store::redeliver_latest(conn, opts.ori, opts.actor);
  if (!t.sent) {
    t.note = "nothing the endpoint answered 2xx is left to send again: it needs a delivery first (ask the sandbox "
             "court for a case update)";
    return t;
  }
  if (opts.progress) {
    std::cerr << fmt::format("cjhub certify: message {} sent again to endpoint {}; waiting up to {} s for the answer\n",
                             t.sent->message_id, t.sent->endpoint, c.wait_seconds);
  }
  const auto id = Uuid::parse(t.sent->message_id);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(c.wait_seconds);
  while (id) {
    for (auto& d : store::deliveries_of(conn, *id)) {
      if (d.delivery_id == t.sent->delivery_id) t.outcome = std::move(d);
    }
    if ((t.outcome && settled(t.outcome->state)) || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return t;
}

}  // namespace

Evidence gather(store::Connection& conn, const config::Config& config, const Criteria& criteria,
                const KitOptions& opts) {
  if (!criteria.has_level(opts.level)) {
    throw KitError(fmt::format("the criteria ({} {}) define no level {}", criteria.source, criteria.version, opts.level));
  }
  const auto graded = criteria.for_level(opts.level);
  const auto schemas = schemas_with_fields(config, graded);

  Evidence e;
  const auto agency = store::certified_agency(conn, opts.ori);
  if (!agency) throw KitError("no agency " + opts.ori + " in the hub's database (add it to the agencies file and apply it)");
  if (!agency->sandbox) {
    throw KitError("agency " + opts.ori + " is not a sandbox agency: the kit grades sandbox agencies only, and sends "
                   "them a duplicate");
  }
  e.agency = *agency;
  e.now_us = now_us();
  e.since_us = opts.since_us != 0 ? opts.since_us : e.now_us - criteria.window_days * 86'400'000'000LL;

  e.submissions = store::submissions_of(conn, opts.ori, e.since_us, opts.max_documents);
  validation::Validator validator(schemas);
  for (auto& m : store::messages_from(conn, opts.ori, e.since_us, opts.max_documents)) {
    SentDocument d;
    if (m.body) {
      auto outcome = validator.validate(*m.body);
      d.readable = outcome.ok();
      for (auto& [name, values] : outcome.keys) {
        if (name.find('/') != std::string::npos) d.values[name] = std::move(values);
      }
    }
    m.body.reset();
    d.message = std::move(m);
    e.documents.push_back(std::move(d));
  }
  e.received = store::deliveries_to(conn, opts.ori, e.since_us, opts.max_documents);
  e.obligations = store::erasure_obligations(conn, opts.ori, e.since_us, opts.max_documents);
  for (const auto* c : graded) {
    if (c->check == Check::duplicate_redelivery) {
      e.duplicate = duplicate_trial(conn, *c, opts);
      // What the endpoint was sent again belongs to what it received.
      e.received = store::deliveries_to(conn, opts.ori, e.since_us, opts.max_documents);
      break;
    }
  }
  e.now_us = now_us();
  return e;
}

}  // namespace cjhub::certify
