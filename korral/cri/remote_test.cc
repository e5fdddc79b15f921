#include "korral/cri/remote.h"

#include <gtest/gtest.h>

namespace korral::cri {
namespace {

TEST(PidFromVerboseInfo, ContainerdInfo) {
  google::protobuf::Map<std::string, std::string> info;
  EXPECT_EQ(PidFromVerboseInfo(info), 0);
  info["info"] = R"({"pid":4242,"processStatus":"running","netNamespaceClosed":false,)"
                 R"("runtimeSpec":{"process":{"pid":1}}})";
  EXPECT_EQ(PidFromVerboseInfo(info), 4242);
  info["info"] = R"({"processStatus":"stopped"})";
  EXPECT_EQ(PidFromVerboseInfo(info), 0);
  info["info"] = R"({"pid": -3})";
  EXPECT_EQ(PidFromVerboseInfo(info), 0);
}

TEST(RemoteRuntime, UnreachableSocketIsUnavailable) {
  auto rt = NewRemoteRuntime({.endpoint = "unix:///nonexistent/korral-test.sock",
                              .request_timeout = std::chrono::seconds(1)});
  ASSERT_TRUE(rt.ok());
  auto pid = (*rt)->PodSandboxPid("x");
  EXPECT_FALSE(pid.ok());
}

}  // namespace
}  // namespace korral::cri
