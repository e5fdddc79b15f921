#include "korral/apimachinery/protobuf.h"

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace korral::protobuf {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

// A tiny protobuf encoder for building request bodies by hand.
class Msg {
 public:
  Msg& Varint(uint32_t field, uint64_t v) {
    Tag(field, 0);
    Raw(v);
    return *this;
  }
  Msg& Str(uint32_t field, std::string_view s) {
    Tag(field, 2);
    Raw(s.size());
    out_.append(s);
    return *this;
  }
  Msg& Sub(uint32_t field, const Msg& m) { return Str(field, m.out_); }
  Msg& MapEntry(uint32_t field, std::string_view k, std::string_view v) {
    return Sub(field, Msg().Str(1, k).Str(2, v));
  }
  Msg& MapEntry(uint32_t field, std::string_view k, const Msg& v) {
    return Sub(field, Msg().Str(1, k).Sub(2, v));
  }
  const std::string& bytes() const { return out_; }

 private:
  void Tag(uint32_t field, uint32_t wt) { Raw((uint64_t{field} << 3) | wt); }
  void Raw(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

std::string Envelope(std::string_view api_version, std::string_view kind, const Msg& obj) {
  Msg unknown;
  unknown.Sub(1, Msg().Str(1, api_version).Str(2, kind)).Str(2, obj.bytes()).Str(3, "").Str(4, "");
  return std::string("k8s\0", 4) + unknown.bytes();
}

Msg Meta(std::string_view name) {
  // kubectl (gogo) writes empty strings and zero ints for unset non-pointer fields.
  return Msg().Str(1, name).Str(2, "").Str(3, "").Varint(7, 0).Sub(8, Msg());
}

Msg Quantity(std::string_view s) { return Msg().Str(1, s); }

TEST(Protobuf, Magic) {
  EXPECT_TRUE(LooksLikeKubernetesProtobuf(std::string("k8s\0x", 5)));
  EXPECT_FALSE(LooksLikeKubernetesProtobuf("k8s"));
  EXPECT_FALSE(LooksLikeKubernetesProtobuf("{\"kind\":1}"));
  auto r = DecodeKubernetesProtobuf("{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Protobuf, NamespaceWithLabels) {
  Msg meta = Meta("team-a");
  meta.MapEntry(11, "env", "prod").MapEntry(11, "team", "a");
  Msg ns;
  ns.Sub(1, meta).Sub(2, Msg()).Sub(3, Msg().Str(1, ""));
  auto j = DecodeKubernetesProtobuf(Envelope("v1", "Namespace", ns));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(*j, Json::parse(R"({
    "apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "team-a", "labels": {"env": "prod", "team": "a"}},
    "spec": {}, "status": {}})"))
      << j->dump();
}

TEST(Protobuf, ConfigMapWithData) {
  Msg cm;
  cm.Sub(1, Meta("cfg").Str(3, "default"))
      .MapEntry(2, "a.conf", "x=1\ny=2")
      .MapEntry(2, "empty", "")
      .MapEntry(3, "bin", std::string("\x00\xff", 2));
  auto j = DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", cm));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(*j, Json::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "cfg", "namespace": "default"},
    "data": {"a.conf": "x=1\ny=2", "empty": ""},
    "binaryData": {"bin": "AP8="}})"))
      << j->dump();
}

TEST(Protobuf, SecretBytesAreBase64AndPointersKeepZero) {
  Msg s;
  s.Sub(1, Meta("tls")).MapEntry(2, "password", "s3cret").Str(3, "Opaque").Varint(5, 0);
  auto j = DecodeKubernetesProtobuf(Envelope("v1", "Secret", s));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["data"]["password"], "czNjcmV0");
  EXPECT_EQ((*j)["type"], "Opaque");
  // immutable is *bool: present false stays.
  ASSERT_TRUE(j->contains("immutable"));
  EXPECT_EQ((*j)["immutable"], false);
}

TEST(Protobuf, DeploymentFull) {
  Msg container;
  container.Str(1, "web")
      .Str(2, "nginx:1.27")
      .Str(3, "nginx")
      .Str(4, "-g")
      .Str(4, "daemon off;")
      .Sub(6, Msg().Str(1, "http").Varint(3, 80).Str(4, "TCP"))
      .Sub(6, Msg().Varint(3, 443).Str(4, "TCP"))
      .Sub(7, Msg().Str(1, "MODE").Str(2, "prod"))
      .Sub(
          7,
          Msg().Str(1, "POD_NAME").Sub(3, Msg().Sub(1, Msg().Str(1, "v1").Str(2, "metadata.name"))))
      .Sub(7,
           Msg().Str(1, "PASS").Sub(3, Msg().Sub(4, Msg().Sub(1, Msg().Str(1, "db")).Str(2, "pw"))))
      .Sub(8, Msg()
                  .MapEntry(1, "cpu", Quantity("500m"))
                  .MapEntry(1, "memory", Quantity("128Mi"))
                  .MapEntry(2, "cpu", Quantity("100m")))
      .Sub(9, Msg().Str(1, "data").Str(3, "/data").Varint(2, 1))
      .Sub(10,
           Msg()
               .Sub(1, Msg().Sub(
                           2, Msg().Str(1, "/healthz").Sub(2, Msg().Varint(1, 0).Varint(2, 8080))))
               .Varint(2, 5)
               .Varint(4, 10))
      .Sub(11, Msg().Sub(1, Msg().Sub(3, Msg().Sub(1, Msg().Varint(1, 1).Str(3, "http")))))
      .Str(14, "IfNotPresent");
  Msg pod_spec;
  pod_spec
      .Sub(1, Msg().Str(1, "data").Sub(2, Msg().Sub(2, Msg().Str(1, "").Sub(2, Quantity("1Gi")))))
      .Sub(1, Msg().Str(1, "cfg").Sub(
                  2, Msg().Sub(19, Msg().Sub(1, Msg().Str(1, "cfg")).Varint(3, 420))))
      .Sub(2, container)
      .Str(3, "Always")
      .Varint(4, 30)
      .Str(8, "")
      .Varint(11, 0);
  Msg tmpl;
  tmpl.Sub(1, Msg().Str(1, "").MapEntry(11, "app", "web")).Sub(2, pod_spec);
  Msg spec;
  spec.Varint(1, 3)
      .Sub(2,
           Msg().MapEntry(1, "app", "web").Sub(2, Msg().Str(1, "tier").Str(2, "In").Str(3, "fe")))
      .Sub(3, tmpl)
      .Sub(4,
           Msg()
               .Str(1, "RollingUpdate")
               .Sub(2, Msg().Sub(1, Msg().Varint(1, 1).Str(3, "25%")).Sub(2, Msg().Varint(2, 1))))
      .Varint(5, 0)
      .Varint(6, 10);
  Msg deploy;
  deploy.Sub(1, Meta("web").Str(3, "prod")).Sub(2, spec).Sub(3, Msg());
  auto j = DecodeKubernetesProtobuf(Envelope("apps/v1", "Deployment", deploy));
  ASSERT_TRUE(j.ok()) << j.status();
  Json want = Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod"},
    "spec": {
      "replicas": 3,
      "selector": {"matchLabels": {"app": "web"},
                   "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
          "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                      {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}],
          "containers": [{
            "name": "web", "image": "nginx:1.27", "command": ["nginx"], "args": ["-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                      {"containerPort": 443, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "prod"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                              "initialDelaySeconds": 5, "periodSeconds": 10},
            "readinessProbe": {"tcpSocket": {"port": "http"}},
            "imagePullPolicy": "IfNotPresent"
          }],
          "restartPolicy": "Always",
          "terminationGracePeriodSeconds": 30
        }
      },
      "strategy": {"type": "RollingUpdate",
                   "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
      "revisionHistoryLimit": 10
    },
    "status": {}
  })");
  EXPECT_EQ(*j, want) << j->dump(2);
}

TEST(Protobuf, ReplicasZeroIsKept) {
  Msg deploy;
  deploy.Sub(1, Meta("d")).Sub(2, Msg().Varint(1, 0));
  auto j = DecodeKubernetesProtobuf(Envelope("apps/v1", "Deployment", deploy));
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["spec"], Json::parse(R"({"replicas":0})"));
}

TEST(Protobuf, AuthKinds) {
  Msg ssar;
  ssar.Sub(1, Meta(""))
      .Sub(2, Msg().Sub(1, Msg().Str(1, "default").Str(2, "get").Str(3, "").Str(5, "pods")));
  auto j = DecodeKubernetesProtobuf(
      Envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", ssar));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(
      (*j)["spec"],
      Json::parse(
          R"({"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}})"));

  Msg ssrr;
  ssrr.Sub(1, Meta("")).Sub(2, Msg().Str(1, "kube-system"));
  j = DecodeKubernetesProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview", ssrr));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["spec"]["namespace"], "kube-system");

  Msg ssr;
  ssr.Sub(1, Meta("")).Sub(2, Msg());
  j = DecodeKubernetesProtobuf(Envelope("authentication.k8s.io/v1", "SelfSubjectReview", ssr));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(*j, Json::parse(R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview",
                               "metadata":{},"status":{}})"));

  Msg tr;
  tr.Sub(1, Meta(""))
      .Sub(2, Msg()
                  .Str(1, "https://kubernetes.default.svc")
                  .Varint(4, 3600)
                  .Sub(3, Msg().Str(1, "Pod").Str(2, "v1").Str(3, "p").Str(4, "u1")));
  j = DecodeKubernetesProtobuf(Envelope("authentication.k8s.io/v1", "TokenRequest", tr));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["spec"], Json::parse(R"({"audiences":["https://kubernetes.default.svc"],
      "expirationSeconds":3600,
      "boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"p","uid":"u1"}})"));
}

TEST(Protobuf, TimeAndServiceAccount) {
  Msg meta = Meta("sa");
  meta.Sub(8, Msg().Varint(1, 1700000000));
  Msg sa;
  sa.Sub(1, meta).Sub(3, Msg().Str(1, "regcred")).Varint(4, 0);
  auto j = DecodeKubernetesProtobuf(Envelope("v1", "ServiceAccount", sa));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ((*j)["imagePullSecrets"], Json::parse(R"([{"name":"regcred"}])"));
  EXPECT_EQ((*j)["automountServiceAccountToken"], false);
}

TEST(Protobuf, UnknownFieldsAreSkipped) {
  Msg ns;
  ns.Sub(1, Meta("x").Varint(99, 5).Str(100, "junk")).Varint(50, 1);
  auto j = DecodeKubernetesProtobuf(Envelope("v1", "Namespace", ns));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["metadata"], Json::parse(R"({"name":"x"})"));
}

TEST(Protobuf, Errors) {
  auto j = DecodeKubernetesProtobuf(Envelope("v1", "Foo", Msg()));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(j.status().message(), "no kind \"Foo\" is registered for version \"v1\"");

  j = DecodeKubernetesProtobuf(Envelope("apps/v1", "Namespace", Msg()));
  EXPECT_FALSE(j.ok());

  // Truncated object bytes.
  std::string body = Envelope("v1", "Namespace", Msg().Sub(1, Meta("abc")));
  j = DecodeObject("v1", "Namespace", std::string("\x0a\x10\x0a", 3));
  EXPECT_FALSE(j.ok());
  // Truncated envelope.
  j = DecodeKubernetesProtobuf(body.substr(0, body.size() - 3));
  EXPECT_FALSE(j.ok());
  // Wrong wire type for a string field.
  j = DecodeObject("v1", "Namespace", Msg().Sub(1, Msg().Varint(1, 3)).bytes());
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("wrong wire type"));
  // Unsupported content encoding.
  Msg unknown;
  unknown.Sub(1, Msg().Str(1, "v1").Str(2, "Namespace")).Str(2, "").Str(3, "gzip");
  j = DecodeKubernetesProtobuf(std::string("k8s\0", 4) + unknown.bytes());
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("gzip"));
  // Varint overflow.
  j = DecodeObject("v1", "Namespace", std::string(12, '\xff'));
  EXPECT_FALSE(j.ok());
}

TEST(Protobuf, DeeplyNestedUnknownFieldsDoNotRecurse) {
  // The schema is acyclic, so known fields nest only a few levels; unknown length-delimited
  // fields are skipped without being parsed, however deep their contents nest.
  std::string inner;
  for (int i = 0; i < 10000; ++i) inner = Msg().Str(99, inner).bytes();
  auto j = DecodeObject("v1", "Namespace", inner);
  EXPECT_TRUE(j.ok());
}

TEST(Protobuf, InvalidUtf8IsReplaced) {
  Msg ns;
  ns.Sub(1, Msg().Str(1, std::string("a\xff", 2)));
  auto j = DecodeObject("v1", "Namespace", ns.bytes());
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["metadata"]["name"], "a\xef\xbf\xbd");
  EXPECT_NO_THROW((void)j->dump());
}

}  // namespace
}  // namespace korral::protobuf
