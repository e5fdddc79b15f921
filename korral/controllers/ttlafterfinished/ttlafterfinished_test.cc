// korral/controllers/ttlafterfinished/ttlafterfinished_test.cc
#include "korral/controllers/ttlafterfinished/ttlafterfinished.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

TEST(TtlAfterFinished, DeletesFinishedJobAfterTtl) {
  WorkloadTestEnv env;
  TtlAfterFinishedController c(env.ctx);
  env.Start();
  Json finished_at = FormatTime(env.clock.Now());
  env.Create(
      JobsRef(),
      {{"metadata", {{"name", "done"}}},
       {"spec", {{"ttlSecondsAfterFinished", 100}}},
       {"status",
        {{"conditions",
          {{{"type", "Complete"}, {"status", "True"}, {"lastTransitionTime", finished_at}}}}}}});
  env.Create(JobsRef(),
             {{"metadata", {{"name", "running"}}}, {"spec", {{"ttlSecondsAfterFinished", 0}}}});
  env.Create(
      JobsRef(),
      {{"metadata", {{"name", "no-ttl"}}},
       {"status",
        {{"conditions",
          {{{"type", "Failed"}, {"status", "True"}, {"lastTransitionTime", finished_at}}}}}}});
  env.RunUntilQuiet(c);
  EXPECT_EQ(env.List(JobsRef()).size(), 3u);
  env.clock.Advance(std::chrono::seconds(99));
  env.RunUntilQuiet(c);
  EXPECT_EQ(env.List(JobsRef()).size(), 3u);
  env.clock.Advance(std::chrono::seconds(2));
  env.RunUntilQuiet(c);
  auto jobs = env.List(JobsRef());
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(NameOf(jobs[0]), "no-ttl");
  EXPECT_EQ(NameOf(jobs[1]), "running");
  env.informers.Stop();
  c.Stop();
}

}  // namespace
}  // namespace korral::controllers::workload
