// `cjhub submit`: the reference client on the command line (see src/client).
#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>

#include "cjhub/app/output.hpp"
#include "cjhub/app/commands.hpp"
#include "cjhub/client/submit.hpp"

namespace cjhub::app {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// The files to send: each path as given, or a directory's *.xml files in name order.
std::vector<fs::path> documents(const std::vector<fs::path>& paths) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    if (!fs::is_directory(p)) {
      out.push_back(p);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(p)) {
      if (e.is_regular_file() && e.path().extension() == ".xml") found.push_back(e.path());
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

// CSV: one line per document (recipients are in the table and the JSON only).
const std::vector<std::string> kCsvColumns{"file", "status", "tries", "idempotency_key", "message_id",
                                           "replayed", "type", "detail"};

void print(const std::string& format, const fs::path& file, const client::Submission& s) {
  if (format == "csv") {
    write_csv_line(std::cout, {file.string(), std::to_string(s.status), std::to_string(s.tries), s.idempotency_key,
                               s.accepted() ? s.message_id : "", s.accepted() ? (s.replayed ? "true" : "false") : "",
                               s.accepted() ? "" : s.problem, s.accepted() ? "" : s.detail});
    return;
  }
  if (format == "json") {
    json::object o{{"file", file.string()},       {"status", s.status},         {"tries", s.tries},
                   {"idempotency_key", s.idempotency_key}};
    if (s.accepted()) {
      o["message_id"] = s.message_id;
      o["replayed"] = s.replayed;
      json::array rs;
      for (const auto& r : s.recipients) {
        json::object j{{"recipient_ori", r.ori}, {"endpoint", r.endpoint}, {"state", r.state}, {"attempts", r.attempts}};
        if (!r.ack_status.empty()) j["ack_status"] = r.ack_status;
        rs.push_back(std::move(j));
      }
      o["recipients"] = std::move(rs);
    } else {
      if (!s.problem.empty()) o["type"] = s.problem;
      o["detail"] = s.detail;
    }
    std::cout << json::serialize(o) << "\n";
    return;
  }
  if (s.accepted()) {
    std::cout << file.string() << ": accepted as " << s.message_id << (s.replayed ? " (already accepted before)" : "")
              << " after " << s.tries << " tr" << (s.tries == 1 ? "y" : "ies") << "\n";
    for (const auto& r : s.recipients) {
      std::cout << "  " << r.ori << " " << r.endpoint << ": " << r.state
                << (r.ack_status.empty() ? "" : ", acknowledged " + r.ack_status) << " (" << r.attempts
                << " attempt" << (r.attempts == 1 ? "" : "s") << ")\n";
    }
    return;
  }
  if (s.tries == 0) {
    std::cout << file.string() << ": NOT sent: " << s.detail << "\n";
    return;
  }
  std::cout << file.string() << ": NOT accepted after " << s.tries << " tr" << (s.tries == 1 ? "y" : "ies") << ": "
            << (s.status == 0 ? std::string("no answer") : "HTTP " + std::to_string(s.status))
            << (s.problem.empty() ? "" : " " + s.problem) << (s.detail.empty() ? "" : ": " + s.detail) << "\n";
}

}  // namespace

int submit(const SubmitArgs& args) {
  std::vector<fs::path> files;
  try {
    files = documents(args.paths);
  } catch (const fs::filesystem_error& e) {
    std::cerr << "cjhub submit: " << e.what() << "\n";
    return 3;
  }
  if (files.empty()) {
    std::cerr << "cjhub submit: no documents to send (a directory is read for *.xml)\n";
    return 3;
  }
  std::unique_ptr<client::HubClient> hub;
  try {
    hub = std::make_unique<client::HubClient>(args.hub_url, client::Credentials{args.cert, args.key, args.ca},
                                              std::chrono::seconds(args.timeout_seconds));
  } catch (const std::exception& e) {
    std::cerr << "cjhub submit: " << e.what() << "\n";
    return 3;
  }
  client::RetryPolicy policy;
  policy.max_tries = args.max_tries;
  client::Submitter submitter(*hub, policy);
  if (args.format == "csv") write_csv_line(std::cout, kCsvColumns);
  int refused = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {  // reported like a document that was not accepted; the others are still sent
      client::Submission unread;
      unread.detail = "cannot read the file";
      ++refused;
      print(args.format, file, unread);
      continue;
    }
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto s = submitter.submit(doc);
    if (s.accepted() && args.wait_seconds > 0) submitter.follow(s, std::chrono::seconds(args.wait_seconds));
    if (!s.accepted()) ++refused;
    print(args.format, file, s);
  }
  if (args.format == "table") {
    std::cerr << files.size() - static_cast<std::size_t>(refused) << " of " << files.size() << " document(s) accepted\n";
  }
  return refused == 0 ? 0 : 1;
}

}  // namespace cjhub::app
