// Schema validation of inbound messages: one hardened SAX2 pass that checks well-formedness,
// validates against preloaded XSD grammars and reads the routing keys of the message type.
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cjhub::validation {

// One routing key of a message type: an element path from the root, written with the
// prefixes of MessageTypeSpec::namespaces, e.g. "ciss:ArrestPacket/nc:Case/nc:CaseDocketID".
// The first step is the root element. Every element that matches the full path contributes its
// (whitespace-trimmed) text content, in document order.
struct KeySpec {
  std::string name;  // message_id, case_key, origin_ori, jurisdiction, erasure, ...
  std::string path;
};

struct MessageTypeSpec {
  std::string name;            // e.g. "ArrestPacket"
  std::string root_namespace;  // namespace URI of the root element
  std::string root_local_name;
  std::vector<std::string> schema_files;          // absolute paths of the XSDs to preload
  std::map<std::string, std::string> namespaces;  // prefix -> URI, used by KeySpec::path
  std::vector<KeySpec> keys;
  // A document of this type larger than this is refused (too_large) as soon as its root element
  // is read; 0: no limit of its own.
  std::size_t max_body_bytes = 0;
};

struct Limits {
  std::size_t max_depth = 256;          // element nesting deeper than this is refused
  std::size_t max_key_value_bytes = 1024;  // a routing key value longer than this is refused
  // Checked before Xerces sees the document (it keeps every namespace URI it meets):
  std::size_t max_namespaces = 100;            // distinct namespace URIs declared in one document
  std::size_t max_namespace_uri_length = 1024;  // characters in one namespace URI
};

// Why a document was not accepted. The HTTP layer maps these to problem types.
enum class Verdict {
  ok,
  malformed,          // not well-formed XML, bad encoding, trailing content, ... (HTTP 400)
  forbidden_markup,   // DOCTYPE / DTD / entity declarations (HTTP 400)
  limit_exceeded,     // nesting depth, key length (HTTP 400)
  unknown_type,       // root element is not a registered message type (HTTP 422)
  invalid,            // schema-invalid, or a binary's declared size or format contradicts it (HTTP 422)
  too_large,          // larger than its message type allows (HTTP 413)
  internal_error,     // the hub's own code threw while reading the document: a bug (HTTP 500)
};

const char* to_string(Verdict v) noexcept;

struct Issue {
  std::size_t line = 0;
  std::size_t column = 0;
  std::string message;
};

struct Outcome {
  Verdict verdict = Verdict::ok;
  std::string type_name;  // set when the root matched a registered type
  // key name -> values in document order (only keys configured for the type; absent = no match)
  std::map<std::string, std::vector<std::string>> keys;
  // key name -> for each of its values, the position among its own key's matches of the innermost
  // enclosing element that matched another key (-1: none). E.g. each `erasure` indicator's charge
  // when the `charges` path encloses it: which charge element an indicator belongs to.
  std::map<std::string, std::vector<long>> within;
  std::vector<Issue> issues;  // non-empty unless verdict == ok

  bool ok() const noexcept { return verdict == Verdict::ok; }
  // First value of a key or empty.
  std::string first(const std::string& key) const;
};

// Thrown only while starting up (bad XSD, bad key path, namespace clash).
struct SchemaLoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The loaded, locked grammar pools plus the compiled message types. Immutable after load and safe
// to share between threads. Loading happens at start-up (and on reload); it throws
// SchemaLoadError with a message naming the type and file.
class SchemaSet {
 public:
  static std::shared_ptr<const SchemaSet> load(std::vector<MessageTypeSpec> types, Limits limits);
  ~SchemaSet();
  SchemaSet(const SchemaSet&) = delete;
  SchemaSet& operator=(const SchemaSet&) = delete;

  const std::vector<MessageTypeSpec>& types() const noexcept;
  const Limits& limits() const noexcept;
  std::size_t grammar_count() const noexcept;  // over all pools
  // Grammar pools: one per distinct set of root schema files (types that list the same files
  // share one), so two exchanges' different subsets of one namespace never meet.
  std::size_t pool_count() const noexcept;
  // What Xerces warned about while loading the schemas ("type: schema file 'f': f:line:col: ..."):
  // not fatal, but reported by check-config.
  const std::vector<std::string>& warnings() const noexcept;
  // Namespace URIs added to the shared grammar pool's URI string pool since load. Xerces adds
  // every namespace URI it meets in any document (xmlns declarations included) to that pool and
  // never removes one, so a client sending ever-new namespace URIs grows it, and memory, without
  // bound (roughly 0.7 KB per distinct 100-character URI). Load a fresh SchemaSet (a reload)
  // when this passes a threshold to reclaim the memory.
  std::size_t namespace_pool_growth() const noexcept;
  // The memory those URIs take in the pool, in bytes of UTF-16 text (counted incrementally).
  std::size_t namespace_pool_bytes() const noexcept;

  struct Impl;
  const Impl& impl() const noexcept { return *impl_; }

 private:
  explicit SchemaSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A reusable parser bound to one SchemaSet. Not thread-safe: keep one per thread
// (see for_this_thread). Never throws for bad input: every problem is in the Outcome.
class Validator {
 public:
  explicit Validator(std::shared_ptr<const SchemaSet> schemas);
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  Outcome validate(std::string_view document);

  const std::shared_ptr<const SchemaSet>& schemas() const noexcept;

  // The calling thread's validator for `schemas`; rebuilt when a different SchemaSet is passed
  // (after a reload).
  static Validator& for_this_thread(const std::shared_ptr<const SchemaSet>& schemas);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Process-wide Xerces initialisation (sets XERCES_DISABLE_DTD before XMLPlatformUtils::Initialize).
// Construct once in main (and in test main) before any SchemaSet; terminate on destruction.
class XercesRuntime {
 public:
  XercesRuntime();
  ~XercesRuntime();
  XercesRuntime(const XercesRuntime&) = delete;
  XercesRuntime& operator=(const XercesRuntime&) = delete;
};

}  // namespace cjhub::validation
