// The schema against the binary: checksums recorded with every migration, a database migrated by
// a newer cjhub refused untouched, a migration whose text changed named, and the checksums of a
// database migrated before they were kept filled in; and the attempt history's function as the
// planner sees it.
#include <gtest/gtest.h>

#include "cjhub/store/database.hpp"
#include "cjhub/store/migrations.hpp"
#include "store/migrations_data.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub::test {
namespace {

class Migrations : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
  }
  void exec(const std::string& sql) const {
    auto c = db_->connect();
    pqxx::work tx(*c);
    tx.exec0(sql);
    tx.commit();
  }
  store::ConnectionPtr connect() const { return store::connect(db_->url(), std::chrono::milliseconds(3000)); }
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(Migrations, EveryMigrationIsRecordedWithTheChecksumOfItsText) {
  auto c = connect();
  const auto applied = store::migrate(*c);
  ASSERT_EQ(applied.size(), store::embedded_migrations().size());
  for (const auto& m : store::embedded_migrations()) {
    EXPECT_EQ(db_->scalar("SELECT checksum FROM cjhub_schema_migrations WHERE name = '" + m.name + "'"),
              store::migration_checksum(m))
        << m.name;
  }
  EXPECT_EQ(store::migration_checksum(store::embedded_migrations().front()).size(), 64u);
  const auto state = store::schema_state(*c);
  EXPECT_TRUE(state.pending.empty());
  EXPECT_TRUE(state.unknown.empty());
  EXPECT_TRUE(state.changed.empty());
  EXPECT_EQ(state.unchecked, 0u);
  EXPECT_EQ(state.applied.size(), store::embedded_migrations().size());
}

// `cjhub migrate` names each migration on its progress line as it starts: every one applied is
// announced once, in order, numbered among those applied now; an up-to-date schema announces none.
TEST_F(Migrations, EachMigrationIsAnnouncedBeforeItIsAppliedWithItsNumberAndTheCount) {
  auto c = connect();
  std::vector<std::string> names;
  std::vector<std::size_t> numbers, counts;
  const auto applied = store::migrate(*c, [&](const std::string& name, std::size_t n, std::size_t of) {
    names.push_back(name);
    numbers.push_back(n);
    counts.push_back(of);
  });
  const auto& embedded = store::embedded_migrations();
  ASSERT_EQ(names.size(), embedded.size());
  EXPECT_EQ(names, applied);
  for (std::size_t i = 0; i < embedded.size(); ++i) {
    EXPECT_EQ(names[i], embedded[i].name) << i;
    EXPECT_EQ(numbers[i], i + 1) << names[i];
    EXPECT_EQ(counts[i], embedded.size()) << names[i];
  }
  names.clear();
  EXPECT_TRUE(store::migrate(*c, [&](const std::string& name, std::size_t, std::size_t) { names.push_back(name); })
                  .empty());
  EXPECT_TRUE(names.empty()) << "an up-to-date schema announces nothing; first: " << names.front();
}

// A delivery's attempt history keeps its latest attempts (cjhub_keep_last, 0021), and the planner
// substitutes the function's body into the statements that call it (0026): a completion round calls
// it four times per delivery, and a function the planner cannot inline runs its own executor on
// every call.
TEST_F(Migrations, TheAttemptHistoryKeepsTheLatestAttemptsAndThePlannerInlinesIt) {
  auto c = connect();
  store::migrate(*c);
  EXPECT_EQ(db_->scalar("SELECT cjhub_keep_last('{1,2,3}'::integer[], 4, 2)::text"), "{3,4}");
  EXPECT_EQ(db_->scalar("SELECT cjhub_keep_last('{}'::integer[], 4, 2)::text"), "{4}");
  EXPECT_EQ(db_->scalar("SELECT cjhub_keep_last('{1,2,3}'::integer[], 4, 10)::text"), "{1,2,3,4}");
  EXPECT_EQ(db_->scalar("SELECT cjhub_keep_last('{a}'::text[], NULL::text, 2)::text"), "{a,NULL}");
  EXPECT_EQ(db_->scalar("SELECT cjhub_keep_last('{1}'::integer[], 2, 1)::text"), "{2}");
  // 25 attempts appended one by one, 20 kept: the 6th to the 25th, in order.
  EXPECT_EQ(db_->scalar("WITH RECURSIVE h(n, a) AS (SELECT 0, '{}'::integer[] UNION ALL "
                        "SELECT n + 1, cjhub_keep_last(a, n + 1, 20) FROM h WHERE n < 25) "
                        "SELECT a::text FROM h WHERE n = 25"),
            "{6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25}");
  std::string plan;
  {
    pqxx::nontransaction tx(*c);
    for (const auto& row : tx.exec("EXPLAIN (VERBOSE) SELECT cjhub_keep_last(attempt_status, 200, 20) FROM deliveries"))
      plan += row[0].as<std::string>() + "\n";
  }
  EXPECT_EQ(plan.find("cjhub_keep_last"), std::string::npos) << plan;
  EXPECT_NE(plan.find("array_append(attempt_status, 200)"), std::string::npos) << plan;
}

// No index costs every row written an entry for nothing: a plain b-tree index (not unique, no
// predicate) whose columns begin another b-tree index of the same table serves no look-up the
// longer one does not (as `messages (received_at)` would beside `messages_received`). The query
// names each such pair; the first check shows it finds one.
TEST_F(Migrations, NoIndexIsTheLeadingColumnsOfAnotherOnTheSameTable) {
  auto c = connect();
  store::migrate(*c);
  const std::string redundant =
      "SELECT coalesce(string_agg(a.indexrelid::regclass || ' leads ' || b.indexrelid::regclass, ', ' "
      "ORDER BY a.indexrelid::regclass::text), '') FROM pg_index a JOIN pg_class ca ON ca.oid = a.indexrelid "
      "JOIN pg_am am ON am.oid = ca.relam AND am.amname = 'btree' "
      "JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid "
      "JOIN pg_class cb ON cb.oid = b.indexrelid AND cb.relam = ca.relam "
      "JOIN pg_namespace n ON n.oid = ca.relnamespace AND n.nspname = 'public' "
      "WHERE NOT a.indisunique AND a.indpred IS NULL AND b.indpred IS NULL AND a.indexprs IS NULL "
      "AND b.indexprs IS NULL AND a.indnkeyatts <= b.indnkeyatts "
      "AND (b.indkey::int2[])[0:a.indnkeyatts - 1] = (a.indkey::int2[])[0:a.indnkeyatts - 1]";
  exec("CREATE INDEX messages_by_time_again ON messages (received_at)");
  EXPECT_EQ(db_->scalar(redundant), "messages_by_time_again leads messages_received");
  exec("DROP INDEX messages_by_time_again");
  EXPECT_EQ(db_->scalar(redundant), "");
}

TEST_F(Migrations, ADatabaseMigratedByANewerBinaryIsRefusedAndLeftAsItIs) {
  auto c = connect();
  store::migrate(*c);
  exec("INSERT INTO cjhub_schema_migrations (name, checksum) VALUES ('9999_from_a_newer_release.sql', 'abc')");
  exec("DELETE FROM cjhub_schema_migrations WHERE name = '" + store::embedded_migrations().back().name + "'");
  const auto before = db_->count("SELECT count(*) FROM cjhub_schema_migrations");
  try {
    store::migrate(*c);
    FAIL() << "a database with a migration this binary does not have was migrated";
  } catch (const store::SchemaTooNew& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("9999_from_a_newer_release.sql"), std::string::npos) << what;
    EXPECT_NE(what.find("newer cjhub"), std::string::npos) << what;
  }
  // Nothing applied, not even the migration it lacks.
  EXPECT_EQ(db_->count("SELECT count(*) FROM cjhub_schema_migrations"), before);
  EXPECT_EQ(store::schema_state(*c).pending, std::vector<std::string>{store::embedded_migrations().back().name});
}

TEST_F(Migrations, AMigrationWhoseTextChangedIsNamedAndNothingIsApplied) {
  auto c = connect();
  store::migrate(*c);
  const auto& second = store::embedded_migrations().at(1).name;
  exec("UPDATE cjhub_schema_migrations SET checksum = repeat('0', 64) WHERE name = '" + second + "'");
  exec("DELETE FROM cjhub_schema_migrations WHERE name = '" + store::embedded_migrations().back().name + "'");
  try {
    store::migrate(*c);
    FAIL() << "a changed migration went unnoticed";
  } catch (const store::SchemaMismatch& e) {
    EXPECT_NE(std::string(e.what()).find(second), std::string::npos) << e.what();
  }
  EXPECT_EQ(store::schema_state(*c).changed, std::vector<std::string>{second});
  EXPECT_EQ(store::schema_state(*c).pending.size(), 1u);
}

TEST_F(Migrations, ADatabaseMigratedBeforeChecksumsGetsThemAtTheNextMigrate) {
  auto c = connect();
  store::migrate(*c);
  exec("ALTER TABLE cjhub_schema_migrations DROP COLUMN checksum");
  const auto state = store::schema_state(*c);
  EXPECT_EQ(state.unchecked, store::embedded_migrations().size());
  EXPECT_TRUE(state.pending.empty());
  EXPECT_TRUE(store::migrate(*c).empty()) << "nothing to apply, only checksums to record";
  EXPECT_EQ(db_->count("SELECT count(*) FROM cjhub_schema_migrations WHERE checksum IS NULL"), 0);
  EXPECT_EQ(store::schema_state(*c).unchecked, 0u);
  for (const auto& m : store::embedded_migrations()) {
    EXPECT_EQ(db_->scalar("SELECT checksum FROM cjhub_schema_migrations WHERE name = '" + m.name + "'"),
              store::migration_checksum(m));
  }
}

}  // namespace
}  // namespace cjhub::test
