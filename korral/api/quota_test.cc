#include "korral/api/quota.h"

#include <gtest/gtest.h>

namespace korral::api {
namespace {

using Json = nlohmann::json;

Json Pod(Json spec_extra = Json::object()) {
  Json spec = {{"containers", Json::array({{{"name", "c"}, {"image", "x"}}})}};
  spec.update(spec_extra);
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"spec", spec}};
}
Json Quota(Json spec) { return {{"kind", "ResourceQuota"}, {"spec", spec}}; }

TEST(QuotaScopesTest, PlainScopes) {
  Json best_effort = Pod();
  Json burstable = Pod();
  burstable["spec"]["containers"][0]["resources"] = {{"requests", {{"cpu", "100m"}}}};
  Json terminating = Pod({{"activeDeadlineSeconds", 30}});
  EXPECT_TRUE(QuotaScopesMatchPod(Quota({{"hard", {{"pods", "1"}}}}), burstable));
  EXPECT_FALSE(QuotaHasScopes(Quota({{"hard", {{"pods", "1"}}}})));
  Json be = Quota({{"scopes", {"BestEffort"}}});
  EXPECT_TRUE(QuotaHasScopes(be));
  EXPECT_TRUE(QuotaScopesMatchPod(be, best_effort));
  EXPECT_FALSE(QuotaScopesMatchPod(be, burstable));
  EXPECT_TRUE(QuotaScopesMatchPod(Quota({{"scopes", {"NotBestEffort"}}}), burstable));
  EXPECT_TRUE(QuotaScopesMatchPod(Quota({{"scopes", {"Terminating"}}}), terminating));
  EXPECT_FALSE(QuotaScopesMatchPod(Quota({{"scopes", {"Terminating"}}}), best_effort));
  EXPECT_TRUE(QuotaScopesMatchPod(Quota({{"scopes", {"NotTerminating"}}}), best_effort));
  // All scopes must match.
  EXPECT_FALSE(
      QuotaScopesMatchPod(Quota({{"scopes", {"BestEffort", "Terminating"}}}), best_effort));
  EXPECT_FALSE(QuotaScopesMatchPod(Quota({{"scopes", {"NoSuchScope"}}}), best_effort));
}

TEST(QuotaScopesTest, ScopeSelector) {
  Json high = Pod({{"priorityClassName", "high"}});
  Json none = Pod();
  auto sel = [](const char* op, Json values = Json()) {
    Json e = {{"scopeName", "PriorityClass"}, {"operator", op}};
    if (!values.is_null()) e["values"] = values;
    return Quota({{"scopeSelector", {{"matchExpressions", Json::array({e})}}}});
  };
  EXPECT_TRUE(QuotaScopesMatchPod(sel("In", {"high", "mid"}), high));
  EXPECT_FALSE(QuotaScopesMatchPod(sel("In", {"low"}), high));
  EXPECT_TRUE(QuotaScopesMatchPod(sel("NotIn", {"low"}), high));
  EXPECT_TRUE(QuotaScopesMatchPod(sel("Exists"), high));
  EXPECT_FALSE(QuotaScopesMatchPod(sel("Exists"), none));
  EXPECT_TRUE(QuotaScopesMatchPod(sel("DoesNotExist"), none));
  EXPECT_FALSE(QuotaScopesMatchPod(sel("Bogus"), high));
  Json cross =
      Pod({{"affinity",
            {{"podAntiAffinity",
              {{"requiredDuringSchedulingIgnoredDuringExecution",
                Json::array({{{"topologyKey", "k"}, {"namespaceSelector", Json::object()}}})}}}}}});
  Json xq = Quota({{"scopeSelector",
                    {{"matchExpressions", Json::array({{{"scopeName", "CrossNamespacePodAffinity"},
                                                        {"operator", "Exists"}}})}}}});
  EXPECT_TRUE(QuotaScopesMatchPod(xq, cross));
  EXPECT_FALSE(QuotaScopesMatchPod(xq, none));
}

}  // namespace
}  // namespace korral::api
