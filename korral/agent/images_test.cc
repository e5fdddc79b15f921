#include "korral/agent/images.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "korral/cri/cri.h"

namespace korral::agent {
namespace {

TEST(Tar, RoundTrip) {
  std::vector<TarEntry> e = {{TarEntry::kDir, "a", "", 0755},
                             {TarEntry::kFile, "a/b.txt", "hello", 0644},
                             {TarEntry::kSymlink, "a/l", "/a/b.txt", 0777}};
  std::string tar = MakeTar(e);
  EXPECT_EQ(tar.size() % 512, 0u);
  auto files = ReadTarFiles(tar);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 1u);
  EXPECT_EQ(files->at("a/b.txt"), "hello");
}

TEST(OciArchive, RoundTripKeepsDigestsAndName) {
  std::vector<TarEntry> rootfs = {{TarEntry::kFile, "bin/x", "x", 0755}};
  OciImage img = BuildImage(rootfs, {"sh"});
  EXPECT_EQ(img.layer_digest, "sha256:" + Sha256Hex(img.layer));
  auto back = ReadImageArchive(OciArchive(img, "docker.io/library/busybox:latest"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ref, "docker.io/library/busybox:latest");
  EXPECT_EQ(back->manifest_digest, img.manifest_digest);
  EXPECT_EQ(back->manifest, img.manifest);
  ASSERT_EQ(back->layers.size(), 1u);
  EXPECT_EQ(back->layers[0].data, img.layer);
  EXPECT_EQ(back->layers[0].digest, img.layer_digest);
  auto cfg = nlohmann::json::parse(back->config);
  EXPECT_EQ(cfg["config"]["Cmd"][0], "sh");
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][0], img.layer_digest);
}

TEST(ImageRef, NormalizesAsDocker) {
  EXPECT_EQ(cri::NormalizeImageName("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(cri::NormalizeImageName("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(cri::NormalizeImageName("user/app:1"), "docker.io/user/app:1");
  EXPECT_EQ(cri::NormalizeImageName("registry.local:5000/app"), "registry.local:5000/app:latest");
  EXPECT_EQ(cri::NormalizeImageName("localhost/app:2"), "localhost/app:2");
  EXPECT_EQ(cri::NormalizeImageName("docker.io/library/x:y"), "docker.io/library/x:y");
  EXPECT_EQ(cri::NormalizeImageName("app@sha256:ab"), "docker.io/library/app@sha256:ab");
}

// `docker save` layout: manifest.json naming the config and two layer tars.
TEST(DockerArchive, BecomesAnOciManifestOverTheSameBlobs) {
  std::string l1 = MakeTar({{TarEntry::kFile, "a", "1", 0644}});
  std::string l2 = MakeTar({{TarEntry::kFile, "b", "2", 0644}});
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"rootfs",
       {{"type", "layers"}, {"diff_ids", {"sha256:" + Sha256Hex(l1), "sha256:" + Sha256Hex(l2)}}}}};
  std::string cfg = config.dump();
  nlohmann::json manifest = nlohmann::json::array({{{"Config", "cfg.json"},
                                                    {"RepoTags", {"myapp:1.0"}},
                                                    {"Layers", {"l1/layer.tar", "l2/layer.tar"}}}});
  std::string archive = MakeTar({{TarEntry::kFile, "manifest.json", manifest.dump(), 0644},
                                 {TarEntry::kFile, "cfg.json", cfg, 0644},
                                 {TarEntry::kDir, "l1", "", 0755},
                                 {TarEntry::kFile, "l1/layer.tar", l1, 0644},
                                 {TarEntry::kDir, "l2", "", 0755},
                                 {TarEntry::kFile, "l2/layer.tar", l2, 0644}});
  auto img = ReadImageArchive(archive);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->ref, "docker.io/library/myapp:1.0");
  EXPECT_EQ(img->config, cfg);
  EXPECT_EQ(img->config_digest, "sha256:" + Sha256Hex(cfg));
  ASSERT_EQ(img->layers.size(), 2u);
  EXPECT_EQ(img->layers[1].data, l2);
  auto m = nlohmann::json::parse(img->manifest);
  EXPECT_EQ(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(m["config"]["digest"], img->config_digest);
  ASSERT_EQ(m["layers"].size(), 2u);
  EXPECT_EQ(m["layers"][0]["digest"], "sha256:" + Sha256Hex(l1));
  EXPECT_EQ(m["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar");
  EXPECT_EQ(m["layers"][1]["size"], l2.size());
  EXPECT_EQ(img->manifest_digest, "sha256:" + Sha256Hex(img->manifest));

  // Unnamed or incomplete archives are refused with what is wrong.
  manifest[0]["RepoTags"] = nlohmann::json::array();
  auto unnamed =
      ReadImageArchive(MakeTar({{TarEntry::kFile, "manifest.json", manifest.dump(), 0644},
                                {TarEntry::kFile, "cfg.json", cfg, 0644}}));
  EXPECT_THAT(std::string(unnamed.status().message()), testing::HasSubstr("RepoTags"));
  manifest[0]["RepoTags"] = {"x:1"};
  auto missing =
      ReadImageArchive(MakeTar({{TarEntry::kFile, "manifest.json", manifest.dump(), 0644},
                                {TarEntry::kFile, "cfg.json", cfg, 0644}}));
  EXPECT_THAT(std::string(missing.status().message()), testing::HasSubstr("l1/layer.tar"));
  EXPECT_FALSE(ReadImageArchive(MakeTar({{TarEntry::kFile, "x", "y", 0644}})).ok());
  EXPECT_FALSE(ReadImageArchive("not a tar").ok());
}

// An OCI layout whose index points at a multi-platform image index.
TEST(OciArchive, PicksLinuxAmd64FromAnImageIndex) {
  OciImage img = BuildImage({{TarEntry::kFile, "bin/x", "x", 0755}}, {"sh"});
  nlohmann::json other_manifest = {{"schemaVersion", 2},
                                   {"config", {{"digest", "sha256:00"}}},
                                   {"layers", nlohmann::json::array()}};
  std::string other = other_manifest.dump();
  nlohmann::json sub = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.index.v1+json"},
                        {"manifests",
                         {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                           {"digest", "sha256:" + Sha256Hex(other)},
                           {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}},
                          {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                           {"digest", img.manifest_digest},
                           {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  std::string sub_s = sub.dump();
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"manifests",
       {{{"mediaType", "application/vnd.oci.image.index.v1+json"},
         {"digest", "sha256:" + Sha256Hex(sub_s)},
         {"annotations", {{"io.containerd.image.name", "docker.io/library/multi:1"}}}}}}};
  auto blob = [](const std::string& d) { return "blobs/sha256/" + Sha256Hex(d); };
  std::string archive = MakeTar({{TarEntry::kFile, "index.json", index.dump(), 0644},
                                 {TarEntry::kFile, blob(sub_s), sub_s, 0644},
                                 {TarEntry::kFile, blob(other), other, 0644},
                                 {TarEntry::kFile, blob(img.manifest), img.manifest, 0644},
                                 {TarEntry::kFile, blob(img.config), img.config, 0644},
                                 {TarEntry::kFile, blob(img.layer), img.layer, 0644}});
  auto got = ReadImageArchive(archive);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->ref, "docker.io/library/multi:1");
  EXPECT_EQ(got->manifest_digest, img.manifest_digest);
  ASSERT_EQ(got->layers.size(), 1u);
  EXPECT_EQ(got->layers[0].data, img.layer);
}

TEST(BusyboxRootfs, HasAppletsWhenBusyboxIsInstalled) {
  auto r = BusyboxRootfs("/bin/busybox");
  if (!r.ok()) GTEST_SKIP() << "no busybox-static";
  bool sh = false, httpd = false;
  for (const auto& e : *r) {
    if (e.name == "bin/sh" && e.type == TarEntry::kSymlink) sh = true;
    if (e.name == "usr/sbin/httpd") httpd = true;
  }
  EXPECT_TRUE(sh);
  EXPECT_TRUE(httpd);
  EXPECT_FALSE(BusyboxRootfs("/nonexistent/busybox").ok());
}

}  // namespace
}  // namespace korral::agent
