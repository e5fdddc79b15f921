// The C++ client library against a real apiserver (in process, HTTPS on 127.0.0.1, memory
// storage): CRUD, conflicts, watches and an informer that follows live changes.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "korral/apiserver/apiserver.h"
#include "korral/client/errors.h"
#include "korral/client/informer.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"

namespace korral {
namespace {

using nlohmann::json;

class ClientApiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("korral-client-e2e-" + std::to_string(::getpid()));
    apiserver::ApiServerConfig config;
    config.data_dir = dir_.string();
    config.bind_address = "127.0.0.1";
    config.secure_port = 0;
    config.storage_backend = "memory";
    config.worker_threads = 8;
    auto s = apiserver::ApiServer::Start(config);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s).release();
  }
  static void TearDownTestSuite() {
    server_->Stop();
    delete server_;
    std::filesystem::remove_all(dir_);
  }
  void SetUp() override {
    auto cfg = client::LoadKubeconfig(server_->kubeconfig_path());
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    auto c = client::RestClient::New(*cfg);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
  }
  static json ConfigMap(const std::string& name, const std::string& value) {
    return json{{"metadata", {{"name", name}}}, {"data", {{"k", value}}}};
  }

  static inline std::filesystem::path dir_;
  static inline apiserver::ApiServer* server_ = nullptr;
  std::unique_ptr<client::RestClient> client_;
};

TEST_F(ClientApiServerTest, CrudAndConflict) {
  auto cms = client::resources::ConfigMaps();
  auto created = client_->Create(cms, "default", ConfigMap("c1", "1"));
  ASSERT_TRUE(created.ok()) << created.status();
  auto again = client_->Create(cms, "default", ConfigMap("c1", "1"));
  EXPECT_EQ(client::HttpCodeOf(again.status()), 409);
  json stale = *created;
  json fresh = *created;
  fresh["data"]["k"] = "2";
  ASSERT_TRUE(client_->Update(cms, "default", fresh).ok());
  stale["data"]["k"] = "3";
  auto conflict = client_->Update(cms, "default", stale);
  EXPECT_TRUE(client::IsConflict(conflict.status())) << conflict.status();
  auto got = client_->Get(cms, "default", "c1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"]["k"], "2");
  auto patched =
      client_->Patch(cms, "default", "c1", client::PatchType::kMerge, json{{"data", {{"k", "4"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["data"]["k"], "4");
  ASSERT_TRUE(client_->Delete(cms, "default", "c1").ok());
  EXPECT_TRUE(client::IsNotFound(client_->Get(cms, "default", "c1").status()));
}

TEST_F(ClientApiServerTest, InformerFollowsChanges) {
  auto cms = client::resources::ConfigMaps();
  ASSERT_TRUE(client_->Create(cms, "default", ConfigMap("inf-a", "1")).ok());
  client::SharedInformer informer(client::NewListerWatcher(*client_, cms, "default"));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> log;
  informer.AddEventHandler(
      {.on_add =
           [&](const client::ObjectPtr& o) {
             std::lock_guard l(mu);
             log.push_back("add " + (*o)["metadata"]["name"].get<std::string>());
             cv.notify_all();
           },
       .on_update =
           [&](const client::ObjectPtr&, const client::ObjectPtr& n) {
             std::lock_guard l(mu);
             log.push_back("update " + (*n)["metadata"]["name"].get<std::string>());
             cv.notify_all();
           },
       .on_delete =
           [&](const client::ObjectPtr& o, bool) {
             std::lock_guard l(mu);
             log.push_back("delete " + (*o)["metadata"]["name"].get<std::string>());
             cv.notify_all();
           }});
  informer.Start();
  ASSERT_TRUE(informer.WaitForCacheSync(std::chrono::seconds(10)));
  ASSERT_TRUE(client_->Create(cms, "default", ConfigMap("inf-b", "1")).ok());
  ASSERT_TRUE(
      client_
          ->Patch(cms, "default", "inf-a", client::PatchType::kMerge, json{{"data", {{"k", "2"}}}})
          .ok());
  ASSERT_TRUE(client_->Delete(cms, "default", "inf-b").ok());
  std::unique_lock l(mu);
  bool done = cv.wait_for(l, std::chrono::seconds(10), [&] {
    return std::find(log.begin(), log.end(), "delete inf-b") != log.end();
  });
  ASSERT_TRUE(done);
  std::vector<std::string> want = {"add inf-a", "add inf-b", "update inf-a", "delete inf-b"};
  std::vector<std::string> got(log.end() - 4, log.end());
  EXPECT_EQ(got, want);
  l.unlock();
  informer.Stop();
}

}  // namespace
}  // namespace korral
