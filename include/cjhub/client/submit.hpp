// The reference client's logic: submit documents to the hub the way the hub expects a vendor to.
//
//   cjhub::client::HubClient hub("https://hub.example:8443", {cert, key, ca}, std::chrono::seconds(30));
//   cjhub::client::Submitter submitter(hub, {});
//   const auto r = submitter.submit(xml);                 // retries until accepted, refused or out of tries
//   if (r.accepted()) submitter.follow(r, std::chrono::seconds(10));  // its recipients and their states
//
// Each document carries an Idempotency-Key derived from its bytes, so sending the same document
// again (a retry, a rerun over a directory) is recognised by the hub and never stored twice.
// What is retried, and after how long, is `next_try` (a plain function).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cjhub/client/hub_client.hpp"

namespace cjhub::client {

struct RetryPolicy {
  int max_tries = 10;                                 // per document, the first included
  std::chrono::milliseconds initial{500};             // backoff: initial * 2^(try-1), capped
  std::chrono::milliseconds max_delay{30000};         // also the cap on a Retry-After
  std::chrono::seconds give_up_after{300};            // per document, from its first try
};

// When to try again after `answer` (the `tries`-th), or nullopt: the answer is final. Retried:
// no answer at all (the outcome is unknown: the same key resolves it), 408, 429 and 5xx, after the
// answer's Retry-After when it has one, else after the backoff with +/-20 % jitter (`draw` in
// [0,1)). A 202 and every other 4xx are final.
std::optional<std::chrono::milliseconds> next_try(const Answer& answer, int tries, const RetryPolicy& policy,
                                                  double draw);

// The Idempotency-Key of a document: "sha256:" and the hex SHA-256 of its bytes.
std::string idempotency_key_of(const std::string& document);

struct Recipient {
  std::string ori, endpoint, state, ack_status;  // state: pending, delivered, dead, suppressed...
  int attempts = 0;
};

struct Submission {
  std::string idempotency_key;
  unsigned status = 0;          // the final answer's HTTP status (0: the hub was never reached)
  std::string message_id;       // when accepted
  std::string location;         // the status URL (path) when accepted
  bool replayed = false;        // the hub had it already (Idempotent-Replayed)
  std::string problem;          // the refusal's problem type ("https://hub.example.gov/problems/schema-invalid"), or empty
  std::string detail;           // the refusal's detail, or the transport error
  int tries = 0;
  std::vector<Recipient> recipients;  // after follow()
  bool accepted() const { return status == 202; }
};

class Submitter {
 public:
  Submitter(HubClient& hub, RetryPolicy policy);
  // POSTs the document to /v1/messages until it is accepted or refused for good.
  Submission submit(const std::string& document);
  // Reads the status URL until no recipient is pending or `wait` has passed; fills `recipients`.
  void follow(Submission& s, std::chrono::milliseconds wait);

 private:
  HubClient& hub_;
  RetryPolicy policy_;
};

}  // namespace cjhub::client
