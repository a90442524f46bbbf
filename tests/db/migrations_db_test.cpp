// The schema against the binary: checksums recorded with every migration, a database migrated by
// a newer cjhub refused untouched, a migration whose text changed named, and the checksums of a
// database migrated before they were kept filled in.
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
