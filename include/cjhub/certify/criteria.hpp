// The certification criteria: a versioned YAML file the state edits (config/certification.yaml).
// Each level lists criteria; each criterion names one of the kit's checks and its thresholds, so
// the state can raise a number, add a field or a statute, or add a criterion built on an existing
// check without a new release. Level N is graded together with the levels it includes.
#pragma once

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cjhub::certify {

// What a criterion measures (the kit's code); the thresholds come from the file.
enum class Check {
  accepted,              // at least `min` documents of `message_type` accepted (each with `with` present)
  clean_submissions,     // none of the latest `last` submissions refused for one of `refusals`
  required_data,         // every accepted document of `message_type` has each field, well-formed
  timeliness,            // each document within `max_minutes` of its `event_time`
  idempotent_retries,    // no idempotency conflict (409) and no document id accepted twice
  certificate,           // the certificate in use is valid for at least `min_days` more
  delivery_order,        // each case's messages reached the endpoint complete and in order
  delivery_answers,      // at least `min` deliveries, at most `max_percent` % not answered 2xx at first
  duplicate_redelivery,  // a redelivered duplicate (sent by the kit) answered 2xx
  erasure_acknowledged,  // at least `min` erasure notices, each acknowledged completed within `within_hours`
};
const char* to_string(Check c) noexcept;

// One element of a document the criterion reads: a path like the message types' keys (prefixes of
// the type's namespaces, the root first, ending in @attribute if need be).
struct Field {
  std::string name;      // shown in the report: "date of birth"
  std::string path;
  std::string format;    // "", date (YYYY-MM-DD), datetime (xs:dateTime with an offset)
  std::string pattern;   // ECMAScript regular expression every value must match whole ("": any)
  std::string code_list;  // every value must be in this code list ("": any)
  bool every = true;     // false: at least one value of the document must satisfy the rules
};

struct Criterion {
  std::string id;     // stable: L1-VOLUME; the JUnit test case's name
  std::string title;  // what a vendor reads
  int level = 1;
  Check check = Check::accepted;
  std::string message_type;
  long long min = 1;
  long long last = 50;
  std::set<std::string> refusals;  // problem slugs (schema-invalid, ...)
  std::vector<Field> fields;       // required_data; `with` of accepted; event_time of timeliness
  long long max_minutes = 60;
  long long min_days = 30;
  long long within_hours = 24;
  long long wait_seconds = 60;
  long long max_percent = 0;
};

struct Criteria {
  std::string version;  // the edition a report names
  std::string title;
  std::string source;   // the file it was read from
  int window_days = 30;
  std::map<int, std::string> level_names;
  std::map<int, std::set<int>> includes;  // level -> the levels graded with it
  std::vector<Criterion> criteria;
  std::map<std::string, std::set<std::string>> code_lists;

  // The criteria graded for `level`, in file order (its own and the included levels').
  std::vector<const Criterion*> for_level(int level) const;
  bool has_level(int level) const { return level_names.count(level) != 0; }
};

struct CriteriaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads and checks the file (unknown checks and keys, missing thresholds, an undefined code list or
// level are errors naming the criterion). Code lists may be inline or `file:` relative to it (one
// code per line, # comments).
Criteria load_criteria(const std::string& path);

}  // namespace cjhub::certify
