#include "korral/apimachinery/patch/fieldpath.h"

#include <fmt/format.h>

#include <unordered_map>

#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/patch/strategic.h"

namespace korral::patch {

using schema::Schema;

namespace {

bool AtomicMap(const Schema* node, const Schema* type) {
  return (node && node->map_type == "atomic") || (type && type->map_type == "atomic");
}

// The path element of a list item.
std::string ElementKey(const Json& item, const ListInfo& info) {
  if (info.kind == ListInfo::kMap && item.is_object()) {
    Json k = Json::object();
    for (const auto& name : info.keys) {
      auto it = item.find(name);
      if (it != item.end()) k[name] = *it;
    }
    return "k:" + k.dump();
  }
  return "v:" + item.dump();
}

void ToSet(const Json& v, const Schema* node, const Schema* type, FieldSet& fs) {
  if (v.is_object()) {
    if (AtomicMap(node, type)) {
      fs.member = true;
      return;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      FieldSchema c = ChildSchema(type, it.key());
      FieldSet& child = fs.children["f:" + it.key()];
      const Json& cv = it.value();
      ToSet(cv, c.node, c.type, child);
      if (cv.is_null() || (cv.is_object() && cv.empty()) || !c.declared) child.member = true;
      if (child.Empty()) fs.children.erase("f:" + it.key());
    }
    return;
  }
  if (v.is_array()) {
    ListInfo info = ListInfoOf(node);
    if (info.kind == ListInfo::kAtomic) {
      fs.member = true;
      return;
    }
    const Schema* item = ListItemSchema(node);
    for (const auto& e : v) {
      FieldSet& child = fs.children[ElementKey(e, info)];
      ToSet(e, nullptr, item, child);
      child.member = true;
    }
    return;
  }
  fs.member = true;
}

// Every node of `v` (what a comparison reports for an added or removed subtree).
void AllPaths(const Json& v, const Schema* node, const Schema* type, FieldSet& fs) {
  fs.member = true;
  if (v.is_object()) {
    if (AtomicMap(node, type)) return;
    for (auto it = v.begin(); it != v.end(); ++it) {
      FieldSchema c = ChildSchema(type, it.key());
      AllPaths(it.value(), c.node, c.type, fs.children["f:" + it.key()]);
    }
  } else if (v.is_array()) {
    ListInfo info = ListInfoOf(node);
    if (info.kind == ListInfo::kAtomic) return;
    const Schema* item = ListItemSchema(node);
    for (const auto& e : v) AllPaths(e, nullptr, item, fs.children[ElementKey(e, info)]);
  }
}

// AllPaths + ToFieldsV1 in one walk: `out` (an object) receives the FieldsV1 form of `v`;
// `member` as AllPaths sets it (every node but the root).
void AllPathsV1(const Json& v, const Schema* node, const Schema* type, Json::object_t& out,
                bool member) {
  static const Json kLeaf = Json::object();
  if (v.is_object()) {
    if (AtomicMap(node, type) || v.empty()) return;
    if (member) out.emplace(".", kLeaf);
    for (auto it = v.begin(); it != v.end(); ++it) {
      FieldSchema c = ChildSchema(type, it.key());
      // Object keys come sorted, and "f:" keeps their order: append at the end.
      auto slot = out.emplace_hint(out.end(), "f:" + it.key(), kLeaf);
      AllPathsV1(it.value(), c.node, c.type, slot->second.get_ref<Json::object_t&>(), true);
    }
  } else if (v.is_array()) {
    ListInfo info = ListInfoOf(node);
    if (info.kind == ListInfo::kAtomic || v.empty()) return;
    if (member) out.emplace(".", kLeaf);
    const Schema* item = ListItemSchema(node);
    for (const auto& e : v) {
      auto slot = out.emplace(ElementKey(e, info), kLeaf).first;
      AllPathsV1(e, nullptr, item, slot->second.get_ref<Json::object_t&>(), true);
    }
  }
}

void Cmp(const Json* l, const Json* r, const Schema* node, const Schema* type, FieldSet& a,
         FieldSet& m, FieldSet& rm);

// Compares one child and attaches the non-empty results under `e` (no empty trie nodes are
// ever allocated: most of an object is usually unchanged).
void CmpChild(const std::string& e, const Json* l, const Json* r, const Schema* node,
              const Schema* type, FieldSet& a, FieldSet& m, FieldSet& rm) {
  FieldSet ca, cm, crm;
  Cmp(l, r, node, type, ca, cm, crm);
  if (!ca.Empty()) a.children.emplace(e, std::move(ca));
  if (!cm.Empty()) m.children.emplace(e, std::move(cm));
  if (!crm.Empty()) rm.children.emplace(e, std::move(crm));
}

void Cmp(const Json* l, const Json* r, const Schema* node, const Schema* type, FieldSet& a,
         FieldSet& m, FieldSet& rm) {
  if (l && !r) {
    AllPaths(*l, node, type, rm);
    return;
  }
  if (r && !l) {
    AllPaths(*r, node, type, a);
    return;
  }
  // Equal values have no differences, whatever their schema: skip the walk.
  if (*l == *r) return;
  if (l->is_object() && r->is_object() && !AtomicMap(node, type)) {
    auto visit = [&](const std::string& k, const Json* lv, const Json* rv) {
      if (lv && rv && *lv == *rv) return;
      FieldSchema c = ChildSchema(type, k);
      CmpChild("f:" + k, lv, rv, c.node, c.type, a, m, rm);
    };
    for (auto it = l->begin(); it != l->end(); ++it) {
      auto jt = r->find(it.key());
      visit(it.key(), &it.value(), jt == r->end() ? nullptr : &*jt);
    }
    for (auto it = r->begin(); it != r->end(); ++it) {
      if (!l->contains(it.key())) visit(it.key(), nullptr, &it.value());
    }
    return;
  }
  if (l->is_array() && r->is_array()) {
    ListInfo info = ListInfoOf(node);
    if (info.kind != ListInfo::kAtomic) {
      const Schema* item = ListItemSchema(node);
      std::map<std::string, const Json*> lk, rk;
      for (const auto& e : *l) lk.emplace(ElementKey(e, info), &e);
      for (const auto& e : *r) rk.emplace(ElementKey(e, info), &e);
      for (const auto& [k, lv] : lk) {
        auto jt = rk.find(k);
        const Json* rv = jt == rk.end() ? nullptr : jt->second;
        if (rv && *lv == *rv) continue;
        CmpChild(k, lv, rv, nullptr, item, a, m, rm);
      }
      for (const auto& [k, rv] : rk) {
        if (lk.count(k)) continue;
        CmpChild(k, nullptr, rv, nullptr, item, a, m, rm);
      }
      return;
    }
  }
  if (*l != *r) m.member = true;
}

Json StripNulls(const Json& v) {
  if (!v.is_object()) return v;
  Json out = Json::object();
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_null()) out[it.key()] = StripNulls(it.value());
  }
  return out;
}

Json MergeValue(Json live, const Json& config, const Schema* node, const Schema* type);

// `live` is consumed: merging moves its parts instead of copying them.
Json MergeLists(Json live, const Json& config, const Schema* node) {
  ListInfo info = ListInfoOf(node);
  if (info.kind == ListInfo::kAtomic || !live.is_array()) return config;
  const Schema* item = ListItemSchema(node);
  std::vector<std::string> lkeys, rkeys;
  std::unordered_map<std::string, size_t> lpos, rpos;
  for (size_t i = 0; i < live.size(); ++i) {
    lkeys.push_back(ElementKey(live[i], info));
    lpos.emplace(lkeys.back(), i);
  }
  for (size_t i = 0; i < config.size(); ++i) {
    rkeys.push_back(ElementKey(config[i], info));
    rpos.emplace(rkeys.back(), i);
  }
  auto merged_item = [&](size_t ri) {
    auto lp = lpos.find(rkeys[ri]);
    if (lp == lpos.end()) return StripNulls(config[ri]);
    return MergeValue(std::move(live[lp->second]), config[ri], nullptr, item);
  };
  // Configuration order for shared and new items; live-only items stay where they were.
  Json out = Json::array();
  size_t next = 0;
  for (size_t i = 0; i < live.size(); ++i) {
    auto rp = rpos.find(lkeys[i]);
    if (rp == rpos.end()) {
      out.push_back(std::move(live[i]));
      continue;
    }
    for (; next <= rp->second && next < config.size(); ++next) out.push_back(merged_item(next));
  }
  for (; next < config.size(); ++next) out.push_back(merged_item(next));
  return out;
}

Json MergeValue(Json live, const Json& config, const Schema* node, const Schema* type) {
  if (config.is_object()) {
    if (!live.is_object() || AtomicMap(node, type)) return StripNulls(config);
    Json out = std::move(live);
    for (auto it = config.begin(); it != config.end(); ++it) {
      if (it.value().is_null()) {
        out.erase(it.key());
        continue;
      }
      FieldSchema c = ChildSchema(type, it.key());
      auto cur = out.find(it.key());
      if (cur == out.end()) {
        out[it.key()] = MergeValue(Json(), it.value(), c.node, c.type);
      } else {
        *cur = MergeValue(std::move(*cur), it.value(), c.node, c.type);
      }
    }
    return out;
  }
  if (config.is_array()) return MergeLists(std::move(live), config, node);
  return config;
}

void Remove(Json& v, const FieldSet& set, const Schema* node, const Schema* type) {
  if (v.is_object()) {
    for (const auto& [elem, sub] : set.children) {
      if (elem.rfind("f:", 0) != 0) continue;
      std::string k = elem.substr(2);
      auto it = v.find(k);
      if (it == v.end()) continue;
      if (sub.member) {
        v.erase(it);
        continue;
      }
      bool was_empty = (it->is_object() || it->is_array()) && it->empty();
      FieldSchema c = ChildSchema(type, k);
      Remove(*it, sub, c.node, c.type);
      if (!was_empty && (it->is_object() || it->is_array()) && it->empty()) v.erase(it);
    }
  } else if (v.is_array()) {
    ListInfo info = ListInfoOf(node);
    if (info.kind == ListInfo::kAtomic) return;
    const Schema* item = ListItemSchema(node);
    Json out = Json::array();
    for (auto& e : v) {
      auto it = set.children.find(ElementKey(e, info));
      if (it == set.children.end()) {
        out.push_back(std::move(e));
        continue;
      }
      if (it->second.member) continue;
      Remove(e, it->second, nullptr, item);
      out.push_back(std::move(e));
    }
    v = std::move(out);
  }
}

void CollectPaths(const FieldSet& fs, const std::string& prefix, std::vector<std::string>* out) {
  if (fs.member && !prefix.empty()) out->push_back(prefix);
  for (const auto& [k, child] : fs.children) {
    CollectPaths(child, prefix + PathElementString(k), out);
  }
}

}  // namespace

void FieldSet::Insert(const std::vector<std::string>& path) {
  FieldSet* cur = this;
  for (const auto& e : path) cur = &cur->children[e];
  cur->member = true;
}

FieldSet FieldSet::Union(const FieldSet& o) const {
  FieldSet out = *this;
  out.member = member || o.member;
  for (const auto& [k, c] : o.children) {
    auto it = out.children.find(k);
    if (it == out.children.end()) {
      out.children.emplace(k, c);
    } else {
      it->second = it->second.Union(c);
    }
  }
  return out;
}

void FieldSet::UnionWith(FieldSet&& o) {
  member = member || o.member;
  for (auto& [k, c] : o.children) {
    auto [it, inserted] = children.try_emplace(k, std::move(c));
    if (!inserted) it->second.UnionWith(std::move(c));
  }
  o.children.clear();
}

void FieldSet::Subtract(const FieldSet& o) {
  if (o.member) member = false;
  if (o.children.empty()) return;
  for (auto it = children.begin(); it != children.end();) {
    auto jt = o.children.find(it->first);
    if (jt != o.children.end()) it->second.Subtract(jt->second);
    it = it->second.Empty() ? children.erase(it) : std::next(it);
  }
}

FieldSet FieldSet::Difference(const FieldSet& o) const {
  FieldSet out;
  out.member = member && !o.member;
  for (const auto& [k, c] : children) {
    auto it = o.children.find(k);
    FieldSet d = it == o.children.end() ? c : c.Difference(it->second);
    if (!d.Empty()) out.children.emplace(k, std::move(d));
  }
  return out;
}

FieldSet FieldSet::Intersection(const FieldSet& o) const {
  FieldSet out;
  out.member = member && o.member;
  for (const auto& [k, c] : children) {
    auto it = o.children.find(k);
    if (it == o.children.end()) continue;
    FieldSet d = c.Intersection(it->second);
    if (!d.Empty()) out.children.emplace(k, std::move(d));
  }
  return out;
}

Json FieldSet::ToFieldsV1() const {
  Json j = Json::object();
  if (member && !children.empty()) j["."] = Json::object();
  for (const auto& [k, c] : children) j[k] = c.ToFieldsV1();
  return j;
}

absl::StatusOr<FieldSet> FieldSet::FromFieldsV1(const Json& j) {
  if (!j.is_object()) return apierrors::NewBadRequest("fieldsV1 must be an object");
  FieldSet fs;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == ".") {
      fs.member = true;
      continue;
    }
    if (k.size() < 2 || k[1] != ':' || (k[0] != 'f' && k[0] != 'k' && k[0] != 'v' && k[0] != 'i')) {
      return apierrors::NewBadRequest(fmt::format("invalid fieldsV1 path element \"{}\"", k));
    }
    auto child = FromFieldsV1(it.value());
    if (!child.ok()) return child.status();
    if (child->Empty()) child->member = true;
    fs.children.emplace(k, std::move(*child));
  }
  return fs;
}

std::vector<std::string> FieldSet::PathStrings() const {
  std::vector<std::string> out;
  CollectPaths(*this, "", &out);
  return out;
}

std::string PathElementString(const std::string& e) {
  if (e.size() < 2) return e;
  std::string rest = e.substr(2);
  switch (e[0]) {
    case 'f':
      return "." + rest;
    case 'i':
      return "[" + rest + "]";
    case 'v':
      return "[=" + rest + "]";
    case 'k': {
      Json k = Json::parse(rest, nullptr, false);
      if (!k.is_object()) return "[" + rest + "]";
      std::string s = "[";
      bool first = true;
      for (auto it = k.begin(); it != k.end(); ++it) {
        if (!first) s += ",";
        first = false;
        s += it.key() + "=" + it.value().dump();
      }
      return s + "]";
    }
  }
  return e;
}

FieldSet ToFieldSet(const Json& value, const Schema* type) {
  FieldSet fs;
  ToSet(value, nullptr, type, fs);
  fs.member = false;  // the root is not a field
  return fs;
}

Json AllPathsFieldsV1(const Json& value, const Schema* type) {
  Json out = Json::object();
  AllPathsV1(value, nullptr, type, out.get_ref<Json::object_t&>(), false);
  return out;
}

Comparison Compare(const Json& lhs, const Json& rhs, const Schema* type) {
  Comparison c;
  Cmp(&lhs, &rhs, nullptr, type, c.added, c.modified, c.removed);
  c.added.member = c.modified.member = c.removed.member = false;
  return c;
}

Json MergeApply(const Json& live, const Json& config, const Schema* type) {
  return MergeValue(live, config, nullptr, type);
}

void RemoveItems(Json& value, const FieldSet& set, const Schema* type) {
  Remove(value, set, nullptr, type);
}

}  // namespace korral::patch
