// Micro-benchmark of the validation hot path: loads one message type and validates the given
// instance documents in a loop on N threads for a number of seconds.
//
//   validate_bench <xsd> <root-namespace> <root-local-name> <instance.xml>... <seconds> <threads>
//
// Prints documents/s and MB/s per thread and in total, and the process's peak resident memory. Every document must validate (the first
// verdict per file is printed); a run in which any verdict changes is reported as an error.
#include <atomic>
#include <chrono>
#include <cjhub/validation/validator.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ThreadResult {
  std::uint64_t docs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t mismatches = 0;
  double seconds = 0;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace cjhub::validation;
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: %s <xsd> <root-namespace> <root-local-name> <instance.xml>... <seconds> "
                 "<threads>\n",
                 argv[0]);
    return 2;
  }
  try {
    XercesRuntime runtime;
    const std::string xsd = argv[1];
    MessageTypeSpec type;
    type.name = "Bench";
    type.root_namespace = argv[2];
    type.root_local_name = argv[3];
    type.schema_files = {xsd};
    const double seconds = std::atof(argv[argc - 2]);
    const int threads = std::atoi(argv[argc - 1]);
    if (seconds <= 0 || threads <= 0)
      throw std::runtime_error("seconds and threads must be positive");

    std::vector<std::string> docs;
    std::vector<std::string> names;
    for (int i = 4; i < argc - 2; ++i) {
      names.push_back(argv[i]);
      docs.push_back(read_file(argv[i]));
    }

    const auto t_load = std::chrono::steady_clock::now();
    auto schemas = SchemaSet::load({type}, Limits{});
    const double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    std::printf("schema load: %.3f s, %zu grammars\n", load_s, schemas->grammar_count());

    // Expected verdicts, from a first pass.
    std::vector<Verdict> expected;
    {
      Validator v(schemas);
      for (std::size_t i = 0; i < docs.size(); ++i) {
        const Outcome o = v.validate(docs[i]);
        expected.push_back(o.verdict);
        std::printf("%s: %zu bytes, %s%s%s\n", names[i].c_str(), docs[i].size(),
                    to_string(o.verdict), o.issues.empty() ? "" : " - ",
                    o.issues.empty() ? "" : o.issues[0].message.c_str());
      }
    }

    std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        Validator& v = Validator::for_this_thread(schemas);
        ThreadResult& r = results[static_cast<std::size_t>(t)];
        const auto start = std::chrono::steady_clock::now();
        const auto deadline = start + std::chrono::duration<double>(seconds);
        std::size_t i = 0;
        for (;;) {
          for (int batch = 0; batch < 16; ++batch) {
            const std::string& d = docs[i];
            const Outcome o = v.validate(d);
            if (o.verdict != expected[i]) ++r.mismatches;
            ++r.docs;
            r.bytes += d.size();
            if (++i == docs.size()) i = 0;
          }
          if (std::chrono::steady_clock::now() >= deadline) break;
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      });
    }
    go.store(true);
    for (auto& th : pool) th.join();

    double total_docs_s = 0;
    double total_mb_s = 0;
    std::uint64_t mismatches = 0;
    for (int t = 0; t < threads; ++t) {
      const auto& r = results[static_cast<std::size_t>(t)];
      const double dps = static_cast<double>(r.docs) / r.seconds;
      const double mbs = static_cast<double>(r.bytes) / r.seconds / 1e6;
      std::printf("thread %d: %10.0f docs/s  %8.2f MB/s  (%llu docs in %.2f s)\n", t, dps, mbs,
                  static_cast<unsigned long long>(r.docs), r.seconds);
      total_docs_s += dps;
      total_mb_s += mbs;
      mismatches += r.mismatches;
    }
    std::printf("total (%d threads): %10.0f docs/s  %8.2f MB/s\n", threads, total_docs_s,
                total_mb_s);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("peak RSS: %ld MB (the documents held in memory included)\n", usage.ru_maxrss / 1024);
    if (mismatches != 0) {
      std::fprintf(stderr, "error: %llu verdicts differed from the first pass\n",
                   static_cast<unsigned long long>(mismatches));
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
