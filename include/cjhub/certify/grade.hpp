// Grading: the criteria held against what the hub recorded of one agency (Evidence), with no I/O,
// so every criterion's pass and fail is a unit test. src/certify/gather.cpp fills the Evidence
// from the store; src/certify/report.cpp writes the result for people (HTML), tools (JSON) and the
// vendor's CI (JUnit XML).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cjhub/certify/criteria.hpp"
#include "cjhub/store/certification_repo.hpp"

namespace cjhub::certify {

// A document the agency sent, with the values the criteria's fields found in it.
struct SentDocument {
  store::SentMessage message;  // body not kept
  bool readable = false;       // the body was there and parsed (false: erased, or past retention)
  // Criterion::id + "/" + Field::name -> the values in document order.
  std::map<std::string, std::vector<std::string>> values;
};

struct DuplicateTrial {
  bool attempted = false;
  std::string note;  // why none was sent, or what happened
  std::optional<store::Redelivery> sent;
  std::optional<store::DeliveryStatus> outcome;  // the delivery after the wait
};

struct Evidence {
  store::CertifiedAgency agency;
  std::int64_t since_us = 0, now_us = 0;
  std::vector<store::SubmissionRecord> submissions;
  std::vector<SentDocument> documents;
  std::vector<store::ReceivedMessage> received;
  std::vector<store::ErasureObligation> obligations;
  DuplicateTrial duplicate;
};

struct Result {
  const Criterion* criterion = nullptr;  // into the Criteria graded: keep them alive with the report
  bool passed = false;
  std::string summary;                // one sentence with the figures
  std::vector<std::string> evidence;  // message ids, delivery ids, times: at most kMaxEvidence lines
};
inline constexpr std::size_t kMaxEvidence = 25;

struct Report {
  std::string ori, agency_name, criteria_version, criteria_title, level_name;
  int level = 1;
  std::int64_t since_us = 0, generated_us = 0;
  std::vector<Result> results;
  bool passed() const;
  std::size_t failures() const;
};

Report grade(const Criteria& criteria, int level, const Evidence& evidence);

// xs:dateTime with a UTC offset (Z or ±hh:mm) as microseconds since the epoch; none if not one.
std::optional<std::int64_t> parse_datetime(const std::string& text);
bool valid_date(const std::string& text);  // YYYY-MM-DD, a real calendar day

}  // namespace cjhub::certify
