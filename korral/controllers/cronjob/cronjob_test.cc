// korral/controllers/cronjob/cronjob_test.cc
#include "korral/controllers/cronjob/cronjob.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

class CronJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fake client stamps creationTimestamp with the real clock: start the fake clock after
    // the real time, 30 s into a minute whose number is 1 modulo 10, so that schedules like
    // "*/10" meet the same boundaries in every run (a start at any minute made
    // SuspendAndStartingDeadline fail one run in ten).
    auto real = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    auto minute = real / 60 + 1;
    minute += (11 - minute % 10) % 10;  // minute % 10 == 1
    auto start = minute * 60 + 30;
    env.clock.Advance(std::chrono::seconds(start) - env.clock.Now().time_since_epoch());
    c = std::make_unique<CronJobController>(env.ctx);
    env.Start();
  }
  void TearDown() override {
    env.informers.Stop();  // no handler may run on a destroyed controller
    c->Stop();
  }
  Json MakeCj(const std::string& name, const std::string& schedule,
              const std::string& policy = "Allow") {
    return {{"apiVersion", "batch/v1"},
            {"kind", "CronJob"},
            {"metadata",
             {{"name", name},
              {"namespace", "default"},
              {"creationTimestamp", FormatTime(env.clock.Now())}}},
            {"spec",
             {{"schedule", schedule},
              {"concurrencyPolicy", policy},
              {"successfulJobsHistoryLimit", 1},
              {"failedJobsHistoryLimit", 1},
              {"jobTemplate",
               {{"metadata", {{"labels", {{"from", name}}}}},
                {"spec", {{"template", {{"spec", {{"containers", Json::array()}}}}}}}}}}}};
  }
  void Quiet() { env.RunUntilQuiet(*c); }
  void Minute() {
    // The controller requeues 100 ms after each schedule time (upstream nextScheduleDelta).
    env.clock.Advance(std::chrono::seconds(61));
    Quiet();
  }
  std::vector<Json> Jobs() { return env.List(JobsRef()); }
  void FinishJob(const Json& job, const std::string& type) {
    Json j = env.Get(JobsRef(), "default", NameOf(job));
    j["status"]["startTime"] = FormatTime(env.clock.Now());
    j["status"]["conditions"] = {
        {{"type", type}, {"status", "True"}, {"lastTransitionTime", FormatTime(env.clock.Now())}}};
    if (type == "Complete") j["status"]["completionTime"] = FormatTime(env.clock.Now());
    ASSERT_TRUE(env.client.UpdateStatus(JobsRef(), "default", j).ok());
  }

  WorkloadTestEnv env;
  std::unique_ptr<CronJobController> c;
};

TEST_F(CronJobTest, CreatesJobsOnScheduleAndTracksThem) {
  env.Create(CronJobsRef(), MakeCj("tick", "* * * * *"));
  // The schedule time that passed between creation and "now" (30 s into the minute) runs.
  Quiet();
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  const Json& job = jobs[0];
  auto minutes =
      std::chrono::duration_cast<std::chrono::seconds>(env.clock.Now().time_since_epoch()).count() /
      60;
  EXPECT_EQ(NameOf(job), "tick-" + std::to_string(minutes));
  EXPECT_EQ(job["metadata"]["labels"]["from"], "tick");
  EXPECT_EQ((*ControllerRefOf(job))["kind"], "CronJob");
  EXPECT_FALSE(Annotation(job, kCronJobScheduledTimestampAnnotation).empty());
  Json cj = env.Get(CronJobsRef(), "default", "tick");
  ASSERT_EQ(cj["status"]["active"].size(), 1u);
  EXPECT_EQ(cj["status"]["active"][0]["name"], NameOf(job));
  EXPECT_TRUE(cj["status"].contains("lastScheduleTime"));
  // Completion: removed from active, lastSuccessfulTime set.
  FinishJob(job, "Complete");
  Quiet();
  cj = env.Get(CronJobsRef(), "default", "tick");
  EXPECT_FALSE(cj["status"].contains("active"));
  EXPECT_TRUE(cj["status"].contains("lastSuccessfulTime"));
  // History limit 1: after the next completion only the newest remains.
  Minute();
  ASSERT_EQ(Jobs().size(), 2u);
  for (const Json& j : Jobs()) {
    if (NameOf(j) != NameOf(job)) FinishJob(j, "Complete");
  }
  Quiet();
  ASSERT_EQ(Jobs().size(), 1u);
  EXPECT_NE(NameOf(Jobs()[0]), NameOf(job));
}

TEST_F(CronJobTest, ForbidSkipsWhileActive) {
  env.Create(CronJobsRef(), MakeCj("f", "* * * * *", "Forbid"));
  Minute();
  ASSERT_EQ(Jobs().size(), 1u);
  Minute();
  EXPECT_EQ(Jobs().size(), 1u);
  c->recorder().Flush();
  bool saw = false;
  for (const auto& e : c->recorder().Recent())
    saw |= e.find("JobAlreadyActive") != std::string::npos;
  EXPECT_TRUE(saw);
}

TEST_F(CronJobTest, ReplaceDeletesTheActiveJob) {
  env.Create(CronJobsRef(), MakeCj("r", "* * * * *", "Replace"));
  Minute();
  auto first = Jobs();
  ASSERT_EQ(first.size(), 1u);
  Minute();
  auto second = Jobs();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(NameOf(first[0]), NameOf(second[0]));
}

TEST_F(CronJobTest, SuspendAndStartingDeadline) {
  Json cj = MakeCj("s", "*/10 * * * *");
  cj["spec"]["suspend"] = true;
  env.Create(CronJobsRef(), cj);
  for (int i = 0; i < 12; ++i) Minute();
  EXPECT_TRUE(Jobs().empty());
  // Resume 12 minutes late with a 60 s starting deadline: the missed run is not started.
  cj = env.Get(CronJobsRef(), "default", "s");
  cj["spec"]["suspend"] = false;
  cj["spec"]["startingDeadlineSeconds"] = 60;
  ASSERT_TRUE(env.client.Update(CronJobsRef(), "default", cj).ok());
  Quiet();
  EXPECT_TRUE(Jobs().empty());
}

TEST_F(CronJobTest, BadScheduleAndTimeZoneAreReported) {
  env.Create(CronJobsRef(), MakeCj("bad", "not a schedule"));
  Json tz = MakeCj("tz", "* * * * *");
  tz["spec"]["timeZone"] = "Mars/Olympus";
  env.Create(CronJobsRef(), tz);
  Minute();
  EXPECT_TRUE(Jobs().empty());
  c->recorder().Flush();
  bool unparseable = false, unknown_tz = false;
  for (const auto& e : c->recorder().Recent()) {
    unparseable |= e.find("UnparseableSchedule") != std::string::npos;
    unknown_tz |= e.find("UnknownTimeZone") != std::string::npos;
  }
  EXPECT_TRUE(unparseable);
  EXPECT_TRUE(unknown_tz);
}

}  // namespace
}  // namespace korral::controllers::workload
