// Database tier: the message search (store::search_messages). Each filter finds exactly its
// messages; pages cover every message once, newest first, across equal receive times; an agency
// sees what it sent or received and nothing else; an erased case's messages carry no subject data.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <set>

#include "cjhub/common/time.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/search_repo.hpp"
#include "store/connection_impl.hpp"
#include "support/log_delivery.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;
using test::TestDatabase;

class SearchDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    conn_ = store::connect(db_->url(), 3000ms);
    // Hartford and New Haven PD publish; DESPP takes everything, DCJ arrest packets and erasure
    // notices; the court publishes erasure notices; Bristol PD exists and takes nothing.
    store::apply_agencies(*conn_, config::parse_agencies(
        "agencies:\n"
        "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n"
        "    publish: [ArrestPacket, EarlyArrestNotification]\n"
        "  - ori: CT0093000\n    name: New Haven\n    identities: [{san_uri: 'urn:n'}]\n"
        "    publish: [ArrestPacket]\n"
        "  - ori: CTJUD0000\n    name: Judicial\n    identities: [{san_uri: 'urn:j'}]\n"
        "    publish: [ErasureNotice]\n"
        "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/d'}]\n"
        "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket, EarlyArrestNotification, "
        "ErasureNotice]}]\n"
        "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:c'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/c'}]\n"
        "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket, ErasureNotice]}]\n"
        "  - ori: CT0017000\n    name: Bristol\n    identities: [{san_uri: 'urn:b'}]\n",
        {"ArrestPacket", "EarlyArrestNotification", "ErasureNotice"}));
  }

  // A message received `minutes` after a fixed start (equal minutes: equal receive times).
  static store::NewMessage message(const std::string& key, const std::string& type, const std::string& sender,
                                   const std::string& case_key, int minutes) {
    store::NewMessage m;
    m.id = Uuid::v7();
    m.type = type;
    m.sender_ori = m.origin_ori = sender;
    m.idempotency_key = m.document_id = key;
    m.case_key = case_key;
    m.jurisdiction = "GA14";
    m.body = "<" + type + "><Name>Doe, Jane</Name>" + key + "</" + type + ">";
    m.body_sha256 = sha256(m.body);
    // 2026-03-01T10:00:00.000001Z
    m.received_at = SystemTime(std::chrono::seconds(1772359200)) + 1us + std::chrono::minutes(minutes);
    m.erasure = type == "ErasureNotice";
    m.type_ack_required = type == "ErasureNotice";
    return m;
  }
  std::vector<std::string> store_all(std::vector<store::NewMessage> ms) {
    std::vector<const store::NewMessage*> p;
    for (auto& m : ms) p.push_back(&m);
    std::vector<std::string> ids;
    for (const auto& r : store::store_group(*conn_, p).results) ids.push_back(r.message_id);
    return ids;
  }
  // The ids of every message the search finds, following its pages.
  std::vector<std::string> all_ids(store::MessageSearch q) {
    std::vector<std::string> out;
    for (int pages = 0; pages < 100; ++pages) {
      const auto page = store::search_messages(*conn_, q);
      for (const auto& m : page.messages) out.push_back(m.id);
      if (!page.next) return out;
      q.after = page.next;
    }
    ADD_FAILURE() << "more than 100 pages";
    return out;
  }
  std::set<std::string> found(store::MessageSearch q) {
    const auto ids = all_ids(std::move(q));
    return {ids.begin(), ids.end()};
  }
  const store::FoundMessage& only(const store::MessageSearch& q) {
    page_ = store::search_messages(*conn_, q);
    EXPECT_EQ(page_.messages.size(), 1u);
    if (page_.messages.empty()) throw std::runtime_error("nothing found");
    return page_.messages.front();
  }

  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
  store::SearchPage page_;
};

TEST_F(SearchDb, EachFilterFindsExactlyItsMessages) {
  const auto ids = store_all({message("H1", "ArrestPacket", "CT0064000", "OTN-1", 0),
                              message("H2", "EarlyArrestNotification", "CT0064000", "OTN-2", 1),
                              message("N1", "ArrestPacket", "CT0093000", "OTN-3", 2),
                              message("N2", "ArrestPacket", "CT0093000", "OTN-1", 3)});
  ASSERT_EQ(ids.size(), 4u);
  const auto& h1 = ids[0];
  const auto& h2 = ids[1];
  const auto& n1 = ids[2];
  const auto& n2 = ids[3];
  store::MessageSearch q;
  EXPECT_EQ(all_ids(q), (std::vector<std::string>{n2, n1, h2, h1})) << "every message, newest first";
  q.case_key = "OTN-1";
  EXPECT_EQ(found(q), (std::set<std::string>{h1, n2}));
  q = {};
  q.type = "EarlyArrestNotification";
  EXPECT_EQ(found(q), (std::set<std::string>{h2}));
  q = {};
  q.sender_ori = "CT0093000";
  EXPECT_EQ(found(q), (std::set<std::string>{n1, n2}));
  q = {};
  q.recipient_ori = "CTDCJ0000";  // DCJ takes arrest packets, not early arrest notifications
  EXPECT_EQ(found(q), (std::set<std::string>{h1, n1, n2}));
  q.recipient_ori = "CT0017000";
  EXPECT_TRUE(found(q).empty());
  q = {};
  q.received_from = "2026-03-01T10:01:00.000001Z";  // inclusive
  q.received_to = "2026-03-01T05:03:00.000001-05:00";  // exclusive, in another offset
  EXPECT_EQ(found(q), (std::set<std::string>{h2, n1}));
  q = {};
  q.type = "ArrestPacket";
  q.sender_ori = "CT0064000";
  q.recipient_ori = "CTDESPP00";
  EXPECT_EQ(found(q), (std::set<std::string>{h1}));

  // States: every entry is pending until the dispatcher's round; then delivered. A dead letter
  // (an erasure notice's row, claimed and refused) is found by its state.
  q = {};
  q.state = "pending";
  EXPECT_EQ(found(q).size(), 4u);
  q.state = "delivered";
  EXPECT_TRUE(found(q).empty());
  EXPECT_EQ(test::deliver_from_log(*conn_).size(), 7u);
  EXPECT_EQ(found(q).size(), 4u);
  q.state = "pending";
  EXPECT_TRUE(found(q).empty());
  const auto notice = store_all({message("E1", "ErasureNotice", "CTJUD0000", "OTN-9", 4)});
  std::vector<store::ClaimRequest> req;
  for (const auto& e : store::load_endpoints(*conn_)) req.push_back({e.id, 10, 60000, 0});
  const auto claimed = store::claim(*conn_, req, "test-hub");
  ASSERT_EQ(claimed.size(), 2u) << "DESPP and DCJ owe the notice an acknowledgement: rows";
  store::Completion dead;
  dead.kind = store::Completion::Kind::dead;
  dead.delivery_id = claimed[0].delivery_id;
  dead.endpoint_id = claimed[0].endpoint_id;
  dead.case_key = claimed[0].case_key;
  dead.message_id = claimed[0].message_id;
  dead.recipient_ori = claimed[0].recipient_ori;
  dead.http_status = 400;
  dead.error = "HTTP 400";
  store::complete(*conn_, {dead}, "test-hub", 1000);
  q.state = "dead";
  EXPECT_EQ(found(q), (std::set<std::string>{notice[0]}));
  q.state = "in_flight";
  EXPECT_EQ(found(q), (std::set<std::string>{notice[0]})) << "the other recipient's row is still claimed";
  q.state = "acknowledged";
  EXPECT_TRUE(found(q).empty());
  // For an agency, a recipient's dead letter is its own business and the sender's.
  const auto& other = claimed[1].recipient_ori;
  q.state = "dead";
  q.party = claimed[0].recipient_ori;
  EXPECT_EQ(found(q), (std::set<std::string>{notice[0]}));
  q.party = other;
  EXPECT_TRUE(found(q).empty()) << other << " sees only its own recipients' states";
  q.state = "in_flight";
  EXPECT_EQ(found(q), (std::set<std::string>{notice[0]}));
  q.party = "CTJUD0000";
  q.state = "dead";
  EXPECT_EQ(found(q), (std::set<std::string>{notice[0]})) << "the sender sees every recipient's state";
  q.party = "CT0064000";
  EXPECT_TRUE(found(q).empty());
  q.party.reset();
  const auto& listed = only([&] {
    store::MessageSearch s;
    s.state = "dead";
    return s;
  }());
  ASSERT_EQ(listed.recipients.size(), 2u);
  const auto& dead_one = listed.recipients[0].recipient_ori == claimed[0].recipient_ori ? listed.recipients[0]
                                                                                         : listed.recipients[1];
  EXPECT_EQ(dead_one.state, "dead");
  EXPECT_EQ(dead_one.last_status, 400);
}

TEST_F(SearchDb, PagesCoverEveryMessageOnceNewestFirstAcrossEqualTimes) {
  // 23 messages over 4 receive times: pages of 5 must cut through groups of equal times.
  std::vector<store::NewMessage> ms;
  for (int i = 0; i < 23; ++i) {
    ms.push_back(message("P" + std::to_string(i), "ArrestPacket", i % 2 ? "CT0064000" : "CT0093000",
                         "OTN-P" + std::to_string(i % 3), i % 4));
  }
  const auto stored = store_all(ms);
  ASSERT_EQ(stored.size(), 23u);
  store::MessageSearch q;
  q.limit = 5;
  std::vector<store::FoundMessage> seen;
  int pages = 0;
  for (;; ++pages) {
    const auto page = store::search_messages(*conn_, q);
    ASSERT_LE(page.messages.size(), 5u);
    seen.insert(seen.end(), page.messages.begin(), page.messages.end());
    if (!page.next) break;
    EXPECT_EQ(page.messages.size(), 5u) << "only the last page is short";
    EXPECT_EQ(page.next->id, page.messages.back().id);
    q.after = page.next;
  }
  EXPECT_EQ(pages + 1, 5) << "23 messages in pages of 5";
  ASSERT_EQ(seen.size(), 23u);
  std::set<std::string> distinct;
  for (const auto& m : seen) distinct.insert(m.id);
  EXPECT_EQ(distinct, std::set<std::string>(stored.begin(), stored.end())) << "no gap, no duplicate";
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const auto& a = seen[i - 1];
    const auto& b = seen[i];
    EXPECT_TRUE(a.received_us > b.received_us || (a.received_us == b.received_us && a.id > b.id))
        << "position " << i << ": " << a.received_at << " " << a.id << " before " << b.received_at << " " << b.id;
  }
  EXPECT_EQ(seen.front().received_at, "2026-03-01T10:03:00.000001Z") << "microseconds kept";

  // The same with a filter and an agency's scope: Hartford's 11 in pages of 3.
  q = {};
  q.limit = 3;
  q.party = "CT0064000";
  q.sender_ori = "CT0064000";
  const auto hartford = all_ids(q);
  EXPECT_EQ(hartford.size(), 11u);
  EXPECT_EQ(std::set<std::string>(hartford.begin(), hartford.end()).size(), 11u);
}

TEST_F(SearchDb, AnAgencySeesOnlyWhatItSentOrReceived) {
  const auto ids = store_all({message("H1", "ArrestPacket", "CT0064000", "OTN-1", 0),
                              message("H2", "EarlyArrestNotification", "CT0064000", "OTN-2", 1),
                              message("N1", "ArrestPacket", "CT0093000", "OTN-3", 2)});
  const auto notice = store_all({message("E1", "ErasureNotice", "CTJUD0000", "OTN-4", 3)});
  const auto& h1 = ids[0];
  const auto& h2 = ids[1];
  const auto& n1 = ids[2];
  const auto& e1 = notice[0];
  auto as = [&](const std::string& ori) {
    store::MessageSearch q;
    q.party = ori;
    return found(q);
  };
  EXPECT_EQ(as("CT0064000"), (std::set<std::string>{h1, h2})) << "Hartford: what it sent";
  EXPECT_EQ(as("CT0093000"), (std::set<std::string>{n1}));
  EXPECT_EQ(as("CTDCJ0000"), (std::set<std::string>{h1, n1, e1})) << "DCJ: arrest packets (log), the notice (row)";
  EXPECT_EQ(as("CTDESPP00"), (std::set<std::string>{h1, h2, n1, e1}));
  EXPECT_EQ(as("CTJUD0000"), (std::set<std::string>{e1}));
  EXPECT_TRUE(as("CT0017000").empty()) << "a third agency sees nothing of the others' traffic";
  EXPECT_EQ(found({}).size(), 4u) << "an operator sees everything";

  // Filters cannot reach past the scope.
  store::MessageSearch q;
  q.party = "CT0017000";
  q.case_key = "OTN-1";
  EXPECT_TRUE(found(q).empty());
  q.case_key.reset();
  q.sender_ori = "CT0064000";
  EXPECT_TRUE(found(q).empty());
  q.sender_ori.reset();
  q.recipient_ori = "CTDESPP00";
  EXPECT_TRUE(found(q).empty());
  q.recipient_ori.reset();
  q.state = "pending";
  EXPECT_TRUE(found(q).empty());
  // A sender filter: the agency's own messages, or those of the sender routed to it.
  q = {};
  q.party = "CTDESPP00";
  q.sender_ori = "CT0064000";
  EXPECT_EQ(found(q), (std::set<std::string>{h1, h2}));
  q.sender_ori = "CTDESPP00";
  EXPECT_TRUE(found(q).empty());
  q.party = "CT0064000";
  q.sender_ori = "CT0064000";
  q.state = "pending";
  EXPECT_EQ(found(q), (std::set<std::string>{h1, h2}));

  // The sender sees every recipient; a recipient only itself.
  q = {};
  q.party = "CT0064000";
  q.case_key = "OTN-1";
  std::set<std::string> recipients;
  for (const auto& r : only(q).recipients) recipients.insert(r.recipient_ori);
  EXPECT_EQ(recipients, (std::set<std::string>{"CTDESPP00", "CTDCJ0000"}));
  q.party = "CTDCJ0000";
  const auto& received = only(q);
  ASSERT_EQ(received.recipients.size(), 1u);
  EXPECT_EQ(received.recipients[0].recipient_ori, "CTDCJ0000");
  EXPECT_EQ(received.recipients[0].state, "pending");
  // And a state filter looks at those recipients only: DESPP's entry delivered, DCJ's not.
  {
    pqxx::nontransaction tx(*conn_);
    tx.exec("UPDATE endpoint_cursors SET position = (SELECT max(seq) FROM messages) "
            "WHERE endpoint_id = (SELECT id FROM endpoints WHERE ori = 'CTDESPP00')");
  }
  q = {};
  q.party = "CTDCJ0000";
  q.state = "delivered";
  EXPECT_TRUE(found(q).empty()) << "DESPP's deliveries are not DCJ's business";
  q.party = "CTDESPP00";
  EXPECT_EQ(found(q), (std::set<std::string>{h1, h2, n1}));
  q.party = "CT0064000";
  EXPECT_EQ(found(q), (std::set<std::string>{h1, h2})) << "the sender sees its recipients' states";
}

TEST_F(SearchDb, AMessageOfAnErasedCaseIsListedWithoutItsSubjectData) {
  const auto before = store_all({message("H1", "ArrestPacket", "CT0064000", "OTN-E", 0),
                                 message("H2", "ArrestPacket", "CT0064000", "OTN-K", 1)});
  const auto notice = store_all({message("E1", "ErasureNotice", "CTJUD0000", "OTN-E", 2)});
  store::MessageSearch q;
  q.case_key = "OTN-E";
  const auto ids = all_ids(q);
  EXPECT_EQ(ids, (std::vector<std::string>{notice[0], before[0]}));
  for (const auto& party : {std::optional<std::string>{}, std::optional<std::string>{"CT0064000"},
                            std::optional<std::string>{"CTDESPP00"}}) {
    q.party = party;
    const auto page = store::search_messages(*conn_, q);
    ASSERT_FALSE(page.messages.empty()) << party.value_or("operator");
    for (const auto& m : page.messages) {
      SCOPED_TRACE(party.value_or("operator") + " " + m.id);
      EXPECT_TRUE(m.erased);
      EXPECT_EQ(m.case_key, "OTN-E");
      EXPECT_FALSE(m.type.empty());
      EXPECT_TRUE(m.document_id.empty());
      EXPECT_TRUE(m.origin_ori.empty());
      EXPECT_TRUE(m.jurisdiction.empty());
      EXPECT_EQ(m.body_size, 0);
    }
  }
  q = {};
  q.case_key = "OTN-K";
  const auto& kept = only(q);
  EXPECT_FALSE(kept.erased) << "another case of the same agency is untouched";
  EXPECT_EQ(kept.document_id, "H2");
  EXPECT_EQ(kept.jurisdiction, "GA14");
  EXPECT_GT(kept.body_size, 0);
}

// The recipient filter's index holds the log only (0025): a message off the log (an erasure
// notice, owed as rows) adds no entry, and the filter, as the search writes it, still reads it.
TEST_F(SearchDb, TheRecipientIndexHoldsTheLogOnlyAndTheRecipientFilterReadsIt) {
  const auto ids = store_all({message("H1", "ArrestPacket", "CT0064000", "OTN-R", 0),
                              message("E1", "ErasureNotice", "CTJUD0000", "OTN-R", 1)});
  pqxx::work tx(*conn_);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM messages WHERE recipients IS NOT NULL AND id = ANY ($1::uuid[])",
                            "{" + ids[0] + "," + ids[1] + "}")[0].as<int>(),
            1)
      << "the arrest packet is on the log, the notice is not";
  const auto def = tx.exec1("SELECT indexdef FROM pg_indexes WHERE indexname = 'messages_recipients'")[0].as<std::string>();
  EXPECT_NE(def.find("gin"), std::string::npos) << def;
  EXPECT_NE(def.find("WHERE (recipients IS NOT NULL)"), std::string::npos) << def;
  // A generic plan (the placeholder unknown), as a prepared search runs it; no table scan allowed,
  // so the plan names the index only if the filter proves the index's condition.
  tx.exec0("SET LOCAL enable_seqscan = off");
  tx.exec0("SET LOCAL plan_cache_mode = force_generic_plan");
  tx.exec0("PREPARE by_recipient(bigint[]) AS SELECT m.id FROM messages m WHERE m.recipients && $1::bigint[]");
  std::string plan;
  for (const auto& row : tx.exec("EXPLAIN EXECUTE by_recipient('{1}')")) plan += row[0].as<std::string>() + "\n";
  EXPECT_NE(plan.find("messages_recipients"), std::string::npos) << plan;
  tx.commit();
  store::MessageSearch q;
  q.party = "CTDCJ0000";
  q.case_key = "OTN-R";
  EXPECT_EQ(found(q), (std::set<std::string>{ids[0], ids[1]})) << "DCJ received both: one on the log, one as a row";
}

}  // namespace
}  // namespace cjhub
