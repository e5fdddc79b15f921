// Tests of the storage.k8s.io/v1 types: defaults, validation and printer rows.
#include <gtest/gtest.h>

#include "korral/api/resource.h"

namespace korral::api {
namespace {

const ResourceType& Type(const char* resource) {
  const ResourceType* t = FindResourceType("storage.k8s.io", "v1", resource);
  EXPECT_NE(t, nullptr) << resource;
  return *t;
}

std::vector<std::string> Fields(const std::vector<Cause>& causes) {
  std::vector<std::string> out;
  for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
  return out;
}

Json Class(const std::string& name) {
  return {{"apiVersion", "storage.k8s.io/v1"},
          {"kind", "StorageClass"},
          {"metadata", {{"name", name}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
          {"provisioner", "example.com/disk"}};
}

TEST(StorageTypes, StorageClassDiscoveryDefaultsAndPrinter) {
  const ResourceType& t = Type("storageclasses");
  EXPECT_FALSE(t.namespaced);
  EXPECT_EQ(t.short_names, std::vector<std::string>{"sc"});
  EXPECT_EQ(t.gvk.kind, "StorageClass");
  Json sc = Class("fast");
  sc["metadata"]["annotations"] = {{"storageclass.kubernetes.io/is-default-class", "true"}};
  t.apply_defaults(sc);
  EXPECT_EQ(sc["reclaimPolicy"], "Delete");
  EXPECT_EQ(sc["volumeBindingMode"], "Immediate");
  EXPECT_TRUE(t.validate(sc, nullptr).empty())
      << testing::PrintToString(Fields(t.validate(sc, nullptr)));
  std::vector<std::string> cols;
  for (const auto& c : t.columns) cols.push_back(c.name);
  EXPECT_EQ(cols, (std::vector<std::string>{"Name", "Provisioner", "ReclaimPolicy",
                                            "VolumeBindingMode", "AllowVolumeExpansion", "Age"}));
  auto now = *ParseTime("2026-01-01T00:05:00Z");
  Json row = t.row_cells(sc, now);
  EXPECT_EQ(row, Json::array(
                     {"fast (default)", "example.com/disk", "Delete", "Immediate", "false", "5m"}));
  sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] = "false";
  sc["allowVolumeExpansion"] = true;
  sc["volumeBindingMode"] = "WaitForFirstConsumer";
  sc["reclaimPolicy"] = "Retain";
  EXPECT_EQ(t.row_cells(sc, now), Json::array({"fast", "example.com/disk", "Retain",
                                               "WaitForFirstConsumer", "true", "5m"}));
}

TEST(StorageTypes, StorageClassValidation) {
  const ResourceType& t = Type("storageclasses");
  Json sc = Class("bad");
  sc.erase("provisioner");
  sc["reclaimPolicy"] = "Recycle";
  sc["volumeBindingMode"] = "Later";
  sc["parameters"] = {{"", "x"}};
  sc["allowedTopologies"] = {{{"matchLabelExpressions", Json::array()}}};
  auto f = Fields(t.validate(sc, nullptr));
  ASSERT_EQ(f.size(), 5u) << testing::PrintToString(f);
  EXPECT_EQ(f[0], "provisioner: Required value");
  EXPECT_EQ(f[1], "parameters: Invalid value: \"\": field can not be empty.");
  EXPECT_EQ(
      f[2],
      "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"");
  EXPECT_EQ(f[3],
            "volumeBindingMode: Unsupported value: \"Later\": supported values: "
            "\"Immediate\", \"WaitForFirstConsumer\"");
  EXPECT_EQ(f[4],
            "allowedTopologies[0].matchLabelExpressions: Required value: must contain at least one "
            "requirement");
  Json bad_name = Class("Upper_case");
  t.apply_defaults(bad_name);
  EXPECT_EQ(t.validate(bad_name, nullptr).size(), 1u);
}

TEST(StorageTypes, StorageClassImmutableFields) {
  const ResourceType& t = Type("storageclasses");
  Json old = Class("c");
  old["parameters"] = {{"type", "ssd"}};
  t.apply_defaults(old);
  Json upd = old;
  upd["metadata"]["annotations"] = {{"storageclass.kubernetes.io/is-default-class", "true"}};
  upd["allowVolumeExpansion"] = true;
  upd["mountOptions"] = {"ro"};
  EXPECT_TRUE(t.validate(upd, &old).empty());
  upd["provisioner"] = "other.io/x";
  upd["parameters"] = {{"type", "hdd"}};
  upd["reclaimPolicy"] = "Retain";
  upd["volumeBindingMode"] = "WaitForFirstConsumer";
  auto f = Fields(t.validate(upd, &old));
  ASSERT_EQ(f.size(), 4u) << testing::PrintToString(f);
  EXPECT_EQ(f[0], "parameters: Forbidden: updates to parameters are forbidden.");
  EXPECT_EQ(f[1], "provisioner: Forbidden: updates to provisioner are forbidden.");
  EXPECT_EQ(f[2], "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.");
  EXPECT_EQ(f[3], "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable");
}

TEST(StorageTypes, CsiDriverDefaultsValidationAndPrinter) {
  const ResourceType& t = Type("csidrivers");
  Json d = {
      {"metadata", {{"name", "disk.example.com"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
      {"spec", Json::object()}};
  t.apply_defaults(d);
  EXPECT_EQ(d["spec"]["attachRequired"], true);
  EXPECT_EQ(d["spec"]["podInfoOnMount"], false);
  EXPECT_EQ(d["spec"]["fsGroupPolicy"], "ReadWriteOnceWithFSType");
  EXPECT_EQ(d["spec"]["volumeLifecycleModes"], Json::array({"Persistent"}));
  EXPECT_TRUE(t.validate(d, nullptr).empty());
  Json row = t.row_cells(d, *ParseTime("2026-01-01T01:00:00Z"));
  EXPECT_EQ(row, Json::array({"disk.example.com", "true", "false", "false", "<unset>", "false",
                              "Persistent", "60m"}));
  Json upd = d;
  upd["spec"]["podInfoOnMount"] = true;
  EXPECT_TRUE(t.validate(upd, &d).empty());
  upd["spec"]["attachRequired"] = false;
  auto f = Fields(t.validate(upd, &d));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0], "spec.attachRequired: Invalid value: false: field is immutable");
  Json long_name = d;
  long_name["metadata"]["name"] = std::string(64, 'a');
  EXPECT_FALSE(t.validate(long_name, nullptr).empty());
}

TEST(StorageTypes, CsiNodeAndVolumeAttachment) {
  const ResourceType& node = Type("csinodes");
  Json n = {{"metadata", {{"name", "n1"}}},
            {"spec",
             {{"drivers",
               {{{"name", "disk.example.com"}, {"nodeID", "i-1"}, {"allocatable", {{"count", 3}}}},
                {{"name", "disk.example.com"}, {"nodeID", ""}}}}}}};
  auto f = Fields(node.validate(n, nullptr));
  ASSERT_EQ(f.size(), 2u) << testing::PrintToString(f);
  EXPECT_EQ(f[0], "spec.drivers[1].name: Duplicate value: \"disk.example.com\"");
  EXPECT_EQ(f[1], "spec.drivers[1].nodeID: Required value");
  EXPECT_EQ(node.row_cells(n, std::chrono::system_clock::now())[1], 2);

  const ResourceType& va = Type("volumeattachments");
  EXPECT_TRUE(va.has_status_subresource);
  Json a = {{"metadata", {{"name", "csi-123"}}},
            {"spec",
             {{"attacher", "disk.example.com"},
              {"nodeName", "n1"},
              {"source", {{"persistentVolumeName", "pv1"}}}}},
            {"status", {{"attached", true}}}};
  EXPECT_TRUE(va.validate(a, nullptr).empty());
  Json row = va.row_cells(a, std::chrono::system_clock::now());
  EXPECT_EQ(row[1], "disk.example.com");
  EXPECT_EQ(row[2], "pv1");
  EXPECT_EQ(row[3], "n1");
  EXPECT_EQ(row[4], true);
  Json upd = a;
  upd["spec"]["nodeName"] = "n2";
  EXPECT_EQ(Fields(va.validate(upd, &a)).size(), 1u);
  Json none = a;
  none["spec"]["source"] = Json::object();
  f = Fields(va.validate(none, nullptr));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0],
            "spec.source: Required value: must specify exactly one of inlineVolumeSpec and "
            "persistentVolumeName");
}

}  // namespace
}  // namespace korral::api
