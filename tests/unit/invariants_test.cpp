// The delivery invariant checker itself: each kind of wrong delivery fails it, and its
// expectations come from the test's model, not from what arrived.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/invariants.hpp"

namespace cjhub::test {
namespace {

using Clock = std::chrono::steady_clock;
using Receipts = std::map<std::string, std::vector<boost::json::object>>;

const std::vector<ModelSubscription> kSubs{
    {"JUD", "arrests", {"ArrestPacket"}, false},
    {"JUD", "receipts", {"Acknowledgement"}, false},
    {"HPD", "own-cases", {"CaseUpdate"}, true},
    {"HPD", "receipts", {"Acknowledgement"}, false},
    {"DESPP", "all", {"ArrestPacket", "CaseUpdate"}, false},
};

SentMessage sent(const std::string& id, const std::string& sender, const std::string& type, const std::string& c,
                 int answered_ms, int sent_ms) {
  const auto t0 = Clock::time_point{};
  return SentMessage{id, sender, type, c, "", t0 + std::chrono::milliseconds(sent_ms),
                     t0 + std::chrono::milliseconds(answered_ms), {}};
}

boost::json::object receipt(const std::string& message, const std::string& delivery) {
  return {{"message_id", message}, {"delivery_id", delivery}};
}

// Two arrest packets of one case from HPD, the second sent after the first was answered; a case
// update from JUD for the same case (HPD's own case) after both.
const std::vector<SentMessage> kLog{
    sent("a1", "HPD", "ArrestPacket", "C1", 10, 0),
    sent("a2", "HPD", "ArrestPacket", "C1", 30, 20),
    sent("u1", "JUD", "CaseUpdate", "C1", 50, 40),
};

Receipts all_good() {
  return {{"JUD", {receipt("a1", "d1"), receipt("a2", "d2")}},
          {"DESPP", {receipt("a1", "d3"), receipt("a2", "d4"), receipt("u1", "d5")}},
          {"HPD", {receipt("u1", "d6")}}};
}

TEST(Invariants, TheModelRoutesBySubscriptionNeverToTheSenderAndOwnCasesByEarlierMessages) {
  EXPECT_EQ(expected_recipients(kLog[0], kLog, kSubs, nullptr), (std::set<std::string>{"JUD", "DESPP"}));
  EXPECT_EQ(expected_recipients(kLog[2], kLog, kSubs, nullptr), (std::set<std::string>{"HPD", "DESPP"}));
  // A case update of a case HPD never sent: not HPD's.
  const auto other = sent("u2", "JUD", "CaseUpdate", "C9", 70, 60);
  EXPECT_EQ(expected_recipients(other, kLog, kSubs, nullptr), (std::set<std::string>{"DESPP"}));
  // An acknowledgement goes back to the referenced message's sender only.
  auto ack = sent("k1", "DESPP", "Acknowledgement", "", 90, 80);
  ack.ack_ref = "a1";
  EXPECT_EQ(expected_recipients(ack, kLog, kSubs, nullptr), (std::set<std::string>{"HPD"}));
  std::string problem;
  EXPECT_TRUE(expected_recipients(sent("e1", "JUD", "ErasureNotice", "C1", 1, 0), kLog, kSubs, &problem).empty());
  EXPECT_NE(problem.find("not modelled"), std::string::npos);
}

TEST(Invariants, EverythingDeliveredInOrderPasses) {
  const auto r = check_receipts(kLog, kLog, kSubs, all_good());
  EXPECT_TRUE(r.ok()) << r.summary();
  EXPECT_EQ(r.expected_deliveries, 6);
  EXPECT_EQ(r.delivered, 6);
}

TEST(Invariants, ALostDeliveryFails) {
  auto got = all_good();
  got["HPD"].clear();  // routing never wrote HPD's own-cases delivery: the checker still expects it
  const auto r = check_receipts(kLog, kLog, kSubs, got);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.lost, 1);
}

TEST(Invariants, AMisdeliveryFails) {
  auto got = all_good();
  got["HPD"].push_back(receipt("a1", "d9"));  // HPD sent a1 itself
  const auto r = check_receipts(kLog, kLog, kSubs, got);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.unexpected, 1);
}

TEST(Invariants, ALaterMessageOfTheCaseBeforeAnEarlierOneFails) {
  auto got = all_good();
  got["JUD"] = {receipt("a2", "d2"), receipt("a1", "d1")};
  const auto r = check_receipts(kLog, kLog, kSubs, got);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.order_violations, 1);
  // A duplicate of the earlier message after the later one is a violation too.
  got["JUD"] = {receipt("a1", "d1"), receipt("a2", "d2"), receipt("a1", "d1")};
  EXPECT_EQ(check_receipts(kLog, kLog, kSubs, got).order_violations, 1);
}

TEST(Invariants, ConcurrentMessagesOfOneCaseHaveNoOrderToKeep) {
  // b2 was sent before b1 was answered: either order is right.
  const std::vector<SentMessage> log{sent("b1", "HPD", "ArrestPacket", "C2", 30, 0),
                                     sent("b2", "HPD", "ArrestPacket", "C2", 31, 5)};
  const Receipts got{{"JUD", {receipt("b2", "x2"), receipt("b1", "x1")}},
                     {"DESPP", {receipt("b1", "x3"), receipt("b2", "x4")}}};
  const auto r = check_receipts(log, log, kSubs, got);
  EXPECT_TRUE(r.ok()) << r.summary();
}

TEST(Invariants, ADuplicateWithAnotherDeliveryIdFails) {
  auto got = all_good();
  got["DESPP"].push_back(receipt("u1", "other"));
  const auto r = check_receipts(kLog, kLog, kSubs, got);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.id_mismatches, 1);
  EXPECT_EQ(r.duplicates, 1);
}

TEST(Invariants, NothingUnderTestIsNoVerdict) {
  const auto r = check_receipts({}, kLog, kSubs, all_good());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.expected_deliveries, 0);
}

TEST(Invariants, SinkTimesParse) {
  const auto t = parse_utc("2026-12-02T19:28:50.578942Z");
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  EXPECT_EQ(us, 1796239730578942LL);
  EXPECT_EQ(parse_utc("2026-12-02T19:28:50Z") + std::chrono::microseconds(578942), t);
  EXPECT_THROW(parse_utc("yesterday"), std::runtime_error);
}

TEST(Invariants, TheTestsViewOfADocument) {
  const auto m = describe_sent("HPD",
                               "<?xml version=\"1.0\"?>\n<!-- c -->\n<ciss:ArrestPacket xmlns:ciss=\"x\"><nc:Case>"
                               "<nc:CaseTrackingID>OTN-1</nc:CaseTrackingID></nc:Case></ciss:ArrestPacket>");
  EXPECT_EQ(m.type, "ArrestPacket");
  EXPECT_EQ(m.case_key, "OTN-1");
  const auto a = describe_sent("DCJ",
                               "<ciss:Acknowledgement><ciss:MessageMetadata><nc:IdentificationID>self"
                               "</nc:IdentificationID></ciss:MessageMetadata><ciss:ReferencedMessageIdentification>"
                               "<nc:IdentificationID>m-42</nc:IdentificationID></ciss:ReferencedMessageIdentification>"
                               "</ciss:Acknowledgement>");
  EXPECT_EQ(a.type, "Acknowledgement");
  EXPECT_EQ(a.ack_ref, "m-42");
}

}  // namespace
}  // namespace cjhub::test
