#include "korral/cri/fake.h"

#include <gtest/gtest.h>

namespace korral::cri {
namespace {

TEST(NormalizeImageName, DockerHubDefaults) {
  EXPECT_EQ(NormalizeImageName("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(NormalizeImageName("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(NormalizeImageName("x/y"), "docker.io/x/y:latest");
  EXPECT_EQ(NormalizeImageName("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
  EXPECT_EQ(NormalizeImageName("registry.k8s.io/pause:3.6"), "registry.k8s.io/pause:3.6");
  EXPECT_EQ(NormalizeImageName("localhost/a@sha256:ab"), "localhost/a@sha256:ab");
  EXPECT_EQ(ImageTag("busybox"), "latest");
  EXPECT_EQ(ImageTag("127.0.0.1:5000/a:v1"), "v1");
  EXPECT_EQ(ImageTag("a@sha256:00"), "");
}

TEST(FakeRuntime, SandboxAndContainerLifecycle) {
  FakeRuntime rt;
  v1::PodSandboxConfig sb;
  sb.mutable_metadata()->set_name("p");
  (*sb.mutable_labels())[kPodUidLabel] = "u1";
  auto id = rt.RunPodSandbox(sb, "");
  ASSERT_TRUE(id.ok());
  auto st = rt.PodSandboxStatus(*id);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->network().ip().empty());

  v1::ContainerConfig cc;
  cc.mutable_metadata()->set_name("c");
  cc.mutable_image()->set_image("busybox");
  EXPECT_EQ(rt.CreateContainer(*id, cc, sb).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(rt.PullImage(cc.image(), nullptr, nullptr).ok());
  auto cid = rt.CreateContainer(*id, cc, sb);
  ASSERT_TRUE(cid.ok());
  ASSERT_TRUE(rt.StartContainer(*cid).ok());
  EXPECT_EQ(rt.ContainerStatus(*cid)->state(), v1::CONTAINER_RUNNING);
  ASSERT_TRUE(rt.StopContainer(*cid, 0).ok());
  EXPECT_EQ(rt.ContainerStatus(*cid)->state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(rt.ContainerStatus(*cid)->exit_code(), 137);

  rt.SetExitScript("c", 3);
  cc.mutable_metadata()->set_attempt(1);
  auto cid2 = rt.CreateContainer(*id, cc, sb);
  ASSERT_TRUE(rt.StartContainer(*cid2).ok());
  EXPECT_EQ(rt.ContainerStatus(*cid2)->exit_code(), 3);

  v1::PodSandboxFilter f;
  (*f.mutable_label_selector())[kPodUidLabel] = "u1";
  EXPECT_EQ(rt.ListPodSandbox(f)->size(), 1u);
  (*f.mutable_label_selector())[kPodUidLabel] = "u2";
  EXPECT_EQ(rt.ListPodSandbox(f)->size(), 0u);
  ASSERT_TRUE(rt.RemovePodSandbox(*id).ok());
  EXPECT_EQ(rt.NumContainers(), 0u);
}

TEST(FakeRuntime, PullErrors) {
  FakeRuntime rt;
  rt.SetPullError("nope:v1", absl::NotFoundError("manifest unknown"));
  v1::ImageSpec spec;
  spec.set_image("nope:v1");
  EXPECT_FALSE(rt.PullImage(spec, nullptr, nullptr).ok());
  EXPECT_FALSE(rt.ImageStatus(spec)->has_value());
}

}  // namespace
}  // namespace korral::cri
