// A release and its database: the binary names its version and commit, and neither `serve` nor
// `migrate` touches a database that a newer release has migrated; both say why.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/hub_process.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub::test {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  return out;
}

TEST(Release, VersionNamesTheProjectVersionAndTheCommit) {
  const std::string binary = CJHUB_BINARY;
  const std::string version = CJHUB_PROJECT_VERSION;
  const auto out = run(binary + " --version");
  EXPECT_TRUE(out.starts_with("cjhub " + version + " (commit ")) << out;
  auto commit = run("git -C " + source_dir().string() + " rev-parse --short=12 HEAD 2>/dev/null");
  while (!commit.empty() && commit.back() == '\n') commit.pop_back();
  if (!commit.empty()) {
    EXPECT_NE(out.find(commit), std::string::npos) << out << " (HEAD is " << commit << ")";
  }
}

TEST(Release, ServeAndMigrateRefuseADatabaseMigratedByANewerRelease) {
  CJHUB_REQUIRE_CLUSTER();
  TestDatabase db;
  db.migrate();
  {
    auto c = db.connect();
    pqxx::work tx(*c);
    tx.exec0("INSERT INTO cjhub_schema_migrations (name, checksum) VALUES ('9999_from_a_newer_release.sql', 'x')");
    tx.commit();
  }
  const auto rows = db.count("SELECT count(*) FROM cjhub_schema_migrations");
  HubOptions o;
  o.database_url = db.url();
  HubProcess hub(o);
  const auto config = (source_dir() / "config" / "cjhub.example.yaml").string();
  for (const auto& command : {"serve", "migrate"}) {
    std::string out;
    const int rc = hub.run_command({command, "-c", config}, &out);
    EXPECT_EQ(rc, 2) << command << " on a newer database: exit 2, which systemd does not restart\n" << out;
    EXPECT_NE(out.find("migrated by a newer cjhub"), std::string::npos) << command << ":\n" << out;
    EXPECT_NE(out.find("9999_from_a_newer_release.sql"), std::string::npos) << command << ":\n" << out;
  }
  EXPECT_EQ(db.count("SELECT count(*) FROM cjhub_schema_migrations"), rows) << "the database was changed";
}

}  // namespace
}  // namespace cjhub::test
