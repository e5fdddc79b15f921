// korral/controllers/job/job_test.cc
#include "korral/controllers/job/job.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

Json MakeJob(const std::string& name, int completions, int parallelism) {
  Json j = {{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 1}}},
            {"spec",
             {{"parallelism", parallelism},
              {"backoffLimit", 6},
              {"completionMode", "NonIndexed"},
              {"selector", {{"matchLabels", {{"job-name", name}}}}},
              {"template",
               {{"metadata", {{"labels", {{"job-name", name}}}}},
                {"spec",
                 {{"restartPolicy", "Never"},
                  {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}}}}}};
  if (completions > 0) j["spec"]["completions"] = completions;
  return j;
}

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jc = std::make_unique<JobController>(env.ctx);
    env.Start();
  }
  void TearDown() override {
    env.informers.Stop();  // no handler may run on a destroyed controller
    jc->Stop();
  }
  void Quiet() { env.RunUntilQuiet(*jc); }
  std::vector<Json> Pods() { return env.List(PodsRef()); }
  std::vector<Json> ActivePods() {
    std::vector<Json> out;
    for (const Json& p : Pods()) {
      if (IsPodActive(p)) out.push_back(p);
    }
    return out;
  }
  Json Job(const std::string& name) { return env.Get(JobsRef(), "default", name); }
  void Finish(const Json& pod, const std::string& phase, int exit_code = 0) {
    Json p = env.Get(PodsRef(), "default", NameOf(pod));
    p["status"]["phase"] = phase;
    p["status"]["containerStatuses"] = {
        {{"name", "c"},
         {"restartCount", 0},
         {"state", {{"terminated", {{"exitCode", exit_code}, {"reason", "Completed"}}}}}}};
    ASSERT_TRUE(env.client.UpdateStatus(PodsRef(), "default", p).ok());
  }
  bool HasCondition(const Json& job, const std::string& type, const std::string& reason = "") {
    const Json* c = FindCondition(job["status"], type);
    return c != nullptr && (*c)["status"] == "True" && (reason.empty() || (*c)["reason"] == reason);
  }

  WorkloadTestEnv env;
  std::unique_ptr<JobController> jc;
};

TEST_F(JobTest, CompletesAfterCompletionsSucceed) {
  env.Create(JobsRef(), MakeJob("pi", 3, 2));
  Quiet();
  auto pods = ActivePods();
  ASSERT_EQ(pods.size(), 2u);
  for (const Json& p : pods) {
    EXPECT_EQ(p["metadata"]["finalizers"][0], kJobTrackingFinalizer);
    EXPECT_EQ(p["metadata"]["generateName"], "pi-");
    EXPECT_EQ((*ControllerRefOf(p))["kind"], "Job");
  }
  Json job = Job("pi");
  EXPECT_EQ(job["status"]["active"], 2);
  EXPECT_EQ(job["status"]["ready"], 0);
  EXPECT_TRUE(job["status"].contains("startTime"));
  for (const Json& p : pods) Finish(p, "Succeeded");
  Quiet();
  job = Job("pi");
  EXPECT_EQ(job["status"]["succeeded"], 2);
  EXPECT_EQ(job["status"]["active"], 1);
  for (const Json& p : Pods()) {
    if (!IsPodActive(p))
      EXPECT_FALSE(p["metadata"].contains("finalizers") && !p["metadata"]["finalizers"].empty());
  }
  for (const Json& p : ActivePods()) Finish(p, "Succeeded");
  Quiet();
  job = Job("pi");
  EXPECT_EQ(job["status"]["succeeded"], 3);
  EXPECT_TRUE(HasCondition(job, "SuccessCriteriaMet", "CompletionsReached"));
  EXPECT_TRUE(HasCondition(job, "Complete", "CompletionsReached"));
  EXPECT_TRUE(job["status"].contains("completionTime"));
  EXPECT_EQ(job["status"]["uncountedTerminatedPods"], Json::object());
  jc->recorder().Flush();
  bool completed = false;
  for (const auto& e : jc->recorder().Recent()) completed |= e == "Normal Completed Job completed";
  EXPECT_TRUE(completed);
}

TEST_F(JobTest, BackoffLimitExceeded) {
  Json j = MakeJob("fail", 1, 1);
  j["spec"]["backoffLimit"] = 1;
  env.Create(JobsRef(), j);
  Quiet();
  Finish(ActivePods()[0], "Failed", 1);
  Quiet();
  EXPECT_EQ(Job("fail")["status"]["failed"], 1);
  // The replacement waits for the pod-failure backoff (10 s) on the fake clock.
  EXPECT_TRUE(ActivePods().empty());
  env.clock.Advance(std::chrono::seconds(11));
  Quiet();
  ASSERT_EQ(ActivePods().size(), 1u);
  Finish(ActivePods()[0], "Failed", 1);
  Quiet();
  Json job = Job("fail");
  EXPECT_EQ(job["status"]["failed"], 2);
  EXPECT_TRUE(HasCondition(job, "FailureTarget", "BackoffLimitExceeded"));
  EXPECT_TRUE(HasCondition(job, "Failed", "BackoffLimitExceeded"));
  EXPECT_EQ((*FindCondition(job["status"], "Failed"))["message"],
            "Job has reached the specified backoff limit");
}

TEST_F(JobTest, ActiveDeadlineExceededDeletesPods) {
  Json j = MakeJob("slow", 2, 2);
  j["spec"]["activeDeadlineSeconds"] = 30;
  env.Create(JobsRef(), j);
  Quiet();
  EXPECT_EQ(ActivePods().size(), 2u);
  env.clock.Advance(std::chrono::seconds(31));
  Quiet();
  env.clock.Advance(std::chrono::seconds(2));
  Quiet();
  Json job = Job("slow");
  EXPECT_TRUE(HasCondition(job, "Failed", "DeadlineExceeded")) << job.dump();
  EXPECT_TRUE(ActivePods().empty());
  EXPECT_EQ(job["status"]["failed"], 2);
}

TEST_F(JobTest, IndexedCompletion) {
  Json j = MakeJob("idx", 3, 3);
  j["spec"]["completionMode"] = "Indexed";
  env.Create(JobsRef(), j);
  Quiet();
  auto pods = ActivePods();
  ASSERT_EQ(pods.size(), 3u);
  std::set<std::string> idx;
  for (const Json& p : pods) {
    std::string i = p["metadata"]["annotations"][kJobCompletionIndexAnnotation];
    idx.insert(i);
    EXPECT_EQ(p["metadata"]["labels"][kJobCompletionIndexAnnotation], i);
    EXPECT_EQ(p["spec"]["hostname"], "idx-" + i);
    EXPECT_EQ(p["metadata"]["generateName"], "idx-" + i + "-");
    EXPECT_EQ(p["spec"]["containers"][0]["env"][0]["name"], "JOB_COMPLETION_INDEX");
  }
  EXPECT_EQ(idx, (std::set<std::string>{"0", "1", "2"}));
  for (const Json& p : pods) {
    if (p["metadata"]["annotations"][kJobCompletionIndexAnnotation] == "1") Finish(p, "Succeeded");
  }
  Quiet();
  EXPECT_EQ(Job("idx")["status"]["completedIndexes"], "1");
  for (const Json& p : ActivePods()) Finish(p, "Succeeded");
  Quiet();
  Json job = Job("idx");
  EXPECT_EQ(job["status"]["completedIndexes"], "0-2");
  EXPECT_EQ(job["status"]["succeeded"], 3);
  EXPECT_TRUE(HasCondition(job, "Complete"));
}

TEST_F(JobTest, PodFailurePolicyFailJob) {
  Json j = MakeJob("pfp", 1, 1);
  j["spec"]["podFailurePolicy"] = {
      {"rules",
       {{{"action", "FailJob"}, {"onExitCodes", {{"operator", "In"}, {"values", {42}}}}}}}};
  env.Create(JobsRef(), j);
  Quiet();
  Finish(ActivePods()[0], "Failed", 42);
  Quiet();
  Json job = Job("pfp");
  ASSERT_TRUE(HasCondition(job, "Failed", "PodFailurePolicy")) << job.dump();
  std::string msg = (*FindCondition(job["status"], "Failed"))["message"];
  EXPECT_NE(msg.find("failed with exit code 42 matching FailJob rule at index 0"),
            std::string::npos);
}

TEST_F(JobTest, PodFailurePolicyIgnoreDoesNotCount) {
  Json j = MakeJob("ign", 1, 1);
  j["spec"]["backoffLimit"] = 0;
  j["spec"]["podFailurePolicy"] = {
      {"rules", {{{"action", "Ignore"}, {"onExitCodes", {{"operator", "In"}, {"values", {3}}}}}}}};
  env.Create(JobsRef(), j);
  Quiet();
  Finish(ActivePods()[0], "Failed", 3);
  Quiet();
  Json job = Job("ign");
  EXPECT_FALSE(HasCondition(job, "Failed"));
  EXPECT_EQ(Int(job, {"status", "failed"}), 0);
  EXPECT_EQ(ActivePods().size(), 1u);  // replaced
}

TEST_F(JobTest, SuspendAndResume) {
  Json j = MakeJob("s", 2, 2);
  j["spec"]["suspend"] = true;
  env.Create(JobsRef(), j);
  Quiet();
  EXPECT_TRUE(ActivePods().empty());
  Json job = Job("s");
  EXPECT_TRUE(HasCondition(job, "Suspended", "JobSuspended"));
  job["spec"]["suspend"] = false;
  ASSERT_TRUE(env.client.Update(JobsRef(), "default", job).ok());
  Quiet();
  EXPECT_EQ(ActivePods().size(), 2u);
  job = Job("s");
  const Json* c = FindCondition(job["status"], "Suspended");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ((*c)["status"], "False");
  EXPECT_EQ((*c)["reason"], "JobResumed");
}

TEST_F(JobTest, BackoffLimitPerIndex) {
  Json j = MakeJob("per", 2, 2);
  j["spec"]["completionMode"] = "Indexed";
  j["spec"]["backoffLimitPerIndex"] = 0;
  env.Create(JobsRef(), j);
  Quiet();
  for (const Json& p : ActivePods()) {
    bool zero = p["metadata"]["annotations"][kJobCompletionIndexAnnotation] == "0";
    EXPECT_EQ(p["metadata"]["annotations"][kJobIndexFailureCountAnnotation], "0");
    Finish(p, zero ? "Failed" : "Succeeded", zero ? 1 : 0);
  }
  Quiet();
  Json job = Job("per");
  EXPECT_EQ(job["status"]["failedIndexes"], "0");
  EXPECT_EQ(job["status"]["completedIndexes"], "1");
  EXPECT_TRUE(HasCondition(job, "Failed", "FailedIndexes")) << job.dump();
}

TEST(JobIndexes, ParseAndFormat) {
  EXPECT_EQ(FormatIndexes({0, 1, 2, 4, 6, 7}), "0-2,4,6-7");
  EXPECT_EQ(ParseIndexes("0-2,4,6-7", 7), (std::set<int64_t>{0, 1, 2, 4, 6}));
  EXPECT_EQ(FormatIndexes({}), "");
}

}  // namespace
}  // namespace korral::controllers::workload

namespace korral::controllers::workload {
namespace {

// A controller that stops after recording pods in uncountedTerminatedPods but before removing
// their finalizers: a fresh controller counts each pod exactly once.
TEST(JobRestart, UncountedPodsAreCountedOnceAfterRestart) {
  WorkloadTestEnv env;
  auto jc = std::make_unique<JobController>(env.ctx);
  env.Start();
  Json j = MakeJob("r", 4, 4);
  env.Create(JobsRef(), j);
  env.RunUntilQuiet(*jc);
  for (const Json& p : env.List(PodsRef())) {
    Json cur = env.Get(PodsRef(), "default", NameOf(p));
    cur["status"]["phase"] = "Succeeded";
    ASSERT_TRUE(env.client.UpdateStatus(PodsRef(), "default", cur).ok());
  }
  env.client.InjectError("patch", "pods", absl::UnavailableError("connection reset"), 100);
  env.Settle();
  jc->ProcessAll(1);
  Json mid = env.Get(JobsRef(), "default", "r");
  EXPECT_EQ(mid["status"]["uncountedTerminatedPods"]["succeeded"].size(), 4u) << mid.dump();
  env.informers.Stop();
  jc->Stop();
  jc.reset();
  // Consume the remaining injected failures with a harmless patch target.
  for (int i = 0; i < 100; ++i) {
    (void)env.client.Patch(PodsRef(), "default", "none", client::PatchType::kMerge, Json::object());
  }
  TestInformerFactory informers2(env.client);
  ControllerContext ctx2 = env.ctx;
  ctx2.informers = &informers2;
  auto jc2 = std::make_unique<JobController>(ctx2);
  informers2.Start();
  informers2.WaitForCacheSync(std::chrono::seconds(5));
  for (int i = 0; i < 50; ++i) {
    informers2.Settle(env.client);
    if (jc2->ProcessAll() == 0) break;
  }
  Json job = env.Get(JobsRef(), "default", "r");
  EXPECT_EQ(job["status"]["succeeded"], 4);
  EXPECT_EQ(job["status"]["uncountedTerminatedPods"], Json::object());
  const Json* c = FindCondition(job["status"], "Complete");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(env.List(PodsRef()).size(), 4u);  // no replacement pods were created
  informers2.Stop();
  jc2->Stop();
}

}  // namespace
}  // namespace korral::controllers::workload
