#include "korral/agent/images.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
  auto back = ReadOciArchive(OciArchive(img, "docker.io/library/busybox:latest"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->second, "docker.io/library/busybox:latest");
  EXPECT_EQ(back->first.manifest_digest, img.manifest_digest);
  EXPECT_EQ(back->first.layer, img.layer);
  auto cfg = nlohmann::json::parse(back->first.config);
  EXPECT_EQ(cfg["config"]["Cmd"][0], "sh");
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][0], img.layer_digest);
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
