#include "korral/apiserver/encryption/encryption.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "korral/storage/memory/memory.h"

namespace korral::apiserver::encryption {
namespace {

std::string Config(const std::string& providers) {
  return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
         "  - resources: [secrets, configmaps]\n    providers:\n" +
         providers;
}

std::string Key(const std::string& name, char fill, size_t n = 32) {
  return "          - name: " + name +
         "\n            secret: " + absl::Base64Escape(std::string(n, fill)) + "\n";
}

TEST(EncryptionTest, EveryProviderRoundTripsAndHidesPlaintext) {
  for (const char* kind : {"aescbc", "aesgcm", "secretbox"}) {
    auto cfg = ParseConfig(
        Config(std::string("      - ") + kind + ":\n          keys:\n" + Key("k1", 'a')));
    ASSERT_TRUE(cfg.ok()) << kind << ": " << cfg.status();
    auto mem = storage::NewMemoryBackend();
    EncryptedBackend b(mem.get(), std::move(*cfg));
    ASSERT_TRUE(b.Create("/registry/secrets/ns/s", "{\"data\":\"hunter2\"}").ok());
    auto raw = mem->Get("/registry/secrets/ns/s");
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw->value.find("hunter2"), std::string::npos) << kind;
    EXPECT_EQ(raw->value.rfind(std::string("k8s:enc:") + kind + ":v1:k1:", 0), 0u) << kind;
    auto got = b.Get("/registry/secrets/ns/s");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->value, "{\"data\":\"hunter2\"}");
    // Unlisted resources stay plaintext.
    ASSERT_TRUE(b.Create("/registry/pods/ns/p", "{\"x\":1}").ok());
    EXPECT_EQ(mem->Get("/registry/pods/ns/p")->value, "{\"x\":1}");
  }
}

TEST(EncryptionTest, RotationReadsOldKeysAndMarksStale) {
  auto mem = storage::NewMemoryBackend();
  {
    auto cfg = ParseConfig(Config("      - aescbc:\n          keys:\n" + Key("old", 'o')));
    EncryptedBackend b(mem.get(), std::move(*cfg));
    ASSERT_TRUE(b.Create("/registry/secrets/ns/s", "v1").ok());
  }
  auto cfg = ParseConfig(Config("      - aesgcm:\n          keys:\n" + Key("new", 'n') +
                                "      - aescbc:\n          keys:\n" + Key("old", 'o')));
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EncryptedBackend b(mem.get(), std::move(*cfg));
  auto r = b.Range({"/registry/secrets/", storage::PrefixEnd("/registry/secrets/"), 0, 0});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kvs[0].value, "v1");
  EXPECT_TRUE(b.IsStale("/registry/secrets/ns/s"));
  ASSERT_TRUE(b.Update("/registry/secrets/ns/s", "v1", 0).ok());
  EXPECT_FALSE(b.IsStale("/registry/secrets/ns/s"));
  EXPECT_EQ(mem->Get("/registry/secrets/ns/s")->value.rfind("k8s:enc:aesgcm:v1:new:", 0), 0u);
  // Plaintext is unreadable without identity.
  ASSERT_TRUE(mem->Create("/registry/secrets/ns/plain", "clear").ok());
  EXPECT_FALSE(b.Get("/registry/secrets/ns/plain").ok());
  // A tampered ciphertext fails authentication.
  auto raw = mem->Get("/registry/secrets/ns/s");
  std::string bad = raw->value;
  bad.back() ^= 1;
  ASSERT_TRUE(mem->Update("/registry/secrets/ns/s", bad, 0).ok());
  EXPECT_FALSE(b.Get("/registry/secrets/ns/s").ok());
}

TEST(EncryptionTest, BadConfigsAreRejectedWithoutLeakingKeys) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {"kind: Nope\n", "kind must be EncryptionConfiguration"},
      {Config("      - aesgcm:\n          keys:\n" + Key("k", 'x', 5)),
       "secret is not of the expected length, got 5, expected one of [16 24 32]"},
      {Config("      - aescbc:\n          keys:\n" + Key("k", 'x', 16)), "expected one of [32]"},
      {Config("      - aescbc:\n          keys:\n          - name: k\n            secret: "
              "not*base64\n"),
       "secrets must be base64 encoded"},
      {Config("      - aescbc:\n          keys:\n" + Key("k", 'x') + Key("k", 'y')),
       "Duplicate value"},
      {Config("      - kms:\n          name: x\n"), "KMS provider is not supported"},
      {Config("      - rot13: {}\n"), "unknown provider \"rot13\""},
      {"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n",
       "at least one resource"},
  };
  for (const auto& c : cases) {
    auto r = ParseConfig(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_THAT(std::string(r.status().message()), testing::HasSubstr(c.want)) << c.text;
    EXPECT_THAT(std::string(r.status().message()),
                testing::Not(testing::HasSubstr(absl::Base64Escape(std::string(32, 'x')))));
  }
}

}  // namespace
}  // namespace korral::apiserver::encryption
