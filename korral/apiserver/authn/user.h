// korral/apiserver/authn/user.h: who a request is from (upstream's user.Info).
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace korral::apiserver::authn {

inline constexpr char kAnonymousUser[] = "system:anonymous";
inline constexpr char kAllAuthenticated[] = "system:authenticated";
inline constexpr char kAllUnauthenticated[] = "system:unauthenticated";
inline constexpr char kSystemMasters[] = "system:masters";
inline constexpr char kNodesGroup[] = "system:nodes";
inline constexpr char kNodeUserPrefix[] = "system:node:";
inline constexpr char kServiceAccountPrefix[] = "system:serviceaccount:";
inline constexpr char kServiceAccountsGroup[] = "system:serviceaccounts";
inline constexpr char kBootstrappersGroup[] = "system:bootstrappers";

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;

  bool InGroup(const std::string& g) const {
    return std::find(groups.begin(), groups.end(), g) != groups.end();
  }
  bool IsAnonymous() const { return name == kAnonymousUser; }
};

// "system:serviceaccount:NS:NAME" -> {NS, NAME}; false if `user` is not a service account.
inline bool SplitServiceAccountUser(const std::string& user, std::string* ns, std::string* name) {
  if (user.rfind(kServiceAccountPrefix, 0) != 0) return false;
  std::string rest = user.substr(sizeof(kServiceAccountPrefix) - 1);
  auto colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= rest.size()) return false;
  *ns = rest.substr(0, colon);
  *name = rest.substr(colon + 1);
  return name->find(':') == std::string::npos;
}

}  // namespace korral::apiserver::authn
