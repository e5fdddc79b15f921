#include "korral/apiserver/audit/audit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace korral::apiserver::audit {
namespace {

TEST(AuditPolicyTest, FirstMatchingRuleWins) {
  auto p = Policy::Parse(R"(apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    users: ["system:kube-proxy"]
  - level: RequestResponse
    verbs: [create]
    resources: [{group: "", resources: ["pods", "pods/*"]}]
  - level: Metadata
    userGroups: [devs]
  - level: Request
    nonResourceURLs: ["/healthz*"]
)");
  ASSERT_TRUE(p.ok()) << p.status();
  EventAttributes a{"alice", {"devs"}, "create", true, "", "pods", "", "ns", "x", ""};
  EXPECT_EQ(p->LevelFor(a), Level::kRequestResponse);
  a.subresource = "exec";
  EXPECT_EQ(p->LevelFor(a), Level::kRequestResponse);
  a.verb = "get";
  EXPECT_EQ(p->LevelFor(a), Level::kMetadata);
  a.user = "system:kube-proxy";
  EXPECT_EQ(p->LevelFor(a), Level::kNone);
  EventAttributes url{"bob", {}, "get", false, "", "", "", "", "", "/healthz/etcd"};
  EXPECT_EQ(p->LevelFor(url), Level::kRequest);
  url.path = "/metrics";
  EXPECT_EQ(p->LevelFor(url), Level::kNone);
}

TEST(AuditPolicyTest, RejectsBadPolicies) {
  EXPECT_THAT(std::string(Policy::Parse("kind: Policy\napiVersion: audit.k8s.io/v1\nrules:\n"
                                        "  - level: Loud\n")
                              .status()
                              .message()),
              testing::HasSubstr("Unsupported value: \"Loud\""));
  EXPECT_FALSE(Policy::Parse("kind: Nope\n").ok());
  EXPECT_FALSE(Policy::Parse("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: []\n").ok());
}

TEST(AuditLoggerTest, RotatesBySizeAndKeepsBackups) {
  std::string dir = testing::TempDir() + "/korral-audit-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto l = Logger::Open(dir + "/audit.log", 1, 2);
  ASSERT_TRUE(l.ok()) << l.status();
  nlohmann::json ev = {{"kind", "Event"}, {"pad", std::string(100 * 1024, 'x')}};
  for (int i = 0; i < 40; ++i) (*l)->Write(ev);
  int backups = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename() != "audit.log") ++backups;
    EXPECT_LE(std::filesystem::file_size(e.path()), 1024u * 1024u + 200u * 1024u);
  }
  EXPECT_EQ(backups, 2);
  std::ifstream in(dir + "/audit.log");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(nlohmann::json::parse(line)["kind"], "Event");
}

}  // namespace
}  // namespace korral::apiserver::audit
