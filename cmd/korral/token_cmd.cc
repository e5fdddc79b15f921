// cmd/korral/token_cmd.cc: bootstrap tokens for joining nodes (kubeadm token ...).
//
//   korral token create [--ttl 24h] [--description D] [--groups G] [--print-join-command]
//   korral token list
//   korral token delete ID|TOKEN
//
// A token is `<id>.<secret>` backed by the Secret kube-system/bootstrap-token-<id> of type
// bootstrap.kubernetes.io/token (usable for authentication as system:bootstrap:<id> in group
// system:bootstrappers, which may create node client CSRs that are approved automatically).
// Every command talks to the apiserver with --kubeconfig (default: the server's
// DATA_DIR/admin.kubeconfig).
#include <openssl/rand.h>

#include <chrono>

#include "absl/strings/escaping.h"
#include "cmd/korral/component.h"
#include "fmt/format.h"
#include "korral/api/resource.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/controllers/controller_utils.h"

namespace korral::cmd {
namespace {

using Json = nlohmann::json;

struct TokenSettings {
  std::string data_dir = "/var/lib/korral/server";
  std::string kubeconfig;
  std::string ttl = "24h";
  std::string description;
  std::vector<std::string> groups = {"system:bootstrappers:korral:default-node-token"};
  std::vector<std::string> usages = {"signing", "authentication"};
  bool print_join = false;
  std::string id;  // delete
  CLI::App *create = nullptr, *list = nullptr, *del = nullptr;
};

std::string RandomString(size_t n) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < n) {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1) continue;
    for (unsigned char c : b) {
      if (c < 252 && out.size() < n) out += kAlphabet[c % 36];  // 252 = 7 * 36: no bias
    }
  }
  return out;
}

std::string B64(const std::string& s) { return absl::Base64Escape(s); }

std::string Decoded(const Json& secret, const char* key) {
  if (!secret.contains("data") || !secret["data"].is_object()) return "";
  std::string out;
  absl::Base64Unescape(secret["data"].value(key, ""), &out);
  return out;
}

int Fail(const absl::Status& st) {
  fmt::print(stderr, "error: {}\n", StatusMessage(st));
  return 1;
}

int Run(TokenSettings& s) {
  std::string kubeconfig = s.kubeconfig.empty() ? s.data_dir + "/admin.kubeconfig" : s.kubeconfig;
  auto rc = client::LoadKubeconfig(kubeconfig);
  if (!rc.ok()) return Fail(rc.status());
  rc->user_agent = "korral-token";
  auto cl = client::RestClient::New(*rc);
  if (!cl.ok()) return Fail(cl.status());
  const client::ResourceRef secrets = client::resources::Secrets();
  if (s.create->parsed()) {
    auto ttl = controllers::ParseGoDuration(s.ttl);
    if (!ttl.ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::string_view("--ttl: " + std::string(StatusMessage(ttl.status())))));
    }
    for (const auto& g : s.groups) {
      if (g.rfind("system:bootstrappers:", 0) != 0) {
        return Fail(absl::InvalidArgumentError(absl::string_view(
            "--groups: \"" + g + "\" must start with \"system:bootstrappers:\"")));
      }
    }
    std::string id = RandomString(6), secret = RandomString(16);
    Json data = {{"token-id", B64(id)}, {"token-secret", B64(secret)}};
    for (const auto& u : s.usages) {
      if (u != "signing" && u != "authentication") {
        return Fail(absl::InvalidArgumentError(
            absl::string_view("--usages: \"" + u + "\" is not one of signing, authentication")));
      }
      data["usage-bootstrap-" + u] = B64("true");
    }
    if (ttl->count() > 0) {
      data["expiration"] = B64(api::FormatTime(std::chrono::system_clock::now() + *ttl));
    }
    if (!s.description.empty()) data["description"] = B64(s.description);
    std::string groups;
    for (const auto& g : s.groups) groups += (groups.empty() ? "" : ",") + g;
    if (!groups.empty()) data["auth-extra-groups"] = B64(groups);
    Json obj = {{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", "bootstrap-token-" + id}, {"namespace", "kube-system"}}},
                {"type", "bootstrap.kubernetes.io/token"},
                {"data", data}};
    auto r = (*cl)->Create(secrets, "kube-system", obj);
    if (!r.ok()) return Fail(r.status());
    std::string token = id + "." + secret;
    if (s.print_join) {
      fmt::print(
          "korral agent --server {} --token {} --ca-file {}/tls/ca.crt --data-dir "
          "/var/lib/korral/agent\n",
          rc->host, token, s.data_dir);
    } else {
      fmt::print("{}\n", token);
    }
    return 0;
  }
  if (s.list->parsed()) {
    auto r = (*cl)->List(secrets, "kube-system");
    if (!r.ok()) return Fail(r.status());
    fmt::print("{:<24}{:<22}{:<27}{:<30}{}\n", "TOKEN", "EXPIRES", "USAGES", "DESCRIPTION",
               "EXTRA GROUPS");
    for (const auto& sec : (*r)["items"]) {
      if (sec.value("type", "") != "bootstrap.kubernetes.io/token") continue;
      std::string usages;
      for (const char* u : {"authentication", "signing"}) {
        if (Decoded(sec, (std::string("usage-bootstrap-") + u).c_str()) == "true") {
          usages += (usages.empty() ? "" : ",") + std::string(u);
        }
      }
      std::string exp = Decoded(sec, "expiration");
      fmt::print("{:<24}{:<22}{:<27}{:<30}{}\n",
                 Decoded(sec, "token-id") + "." + Decoded(sec, "token-secret"),
                 exp.empty() ? "<forever>" : exp, usages.empty() ? "<none>" : usages,
                 Decoded(sec, "description").empty() ? "<none>" : Decoded(sec, "description"),
                 Decoded(sec, "auth-extra-groups"));
    }
    return 0;
  }
  if (s.del->parsed()) {
    std::string id = s.id.substr(0, s.id.find('.'));
    auto r = (*cl)->Delete(secrets, "kube-system", "bootstrap-token-" + id);
    if (!r.ok()) return Fail(r.status());
    fmt::print("bootstrap token \"{}\" deleted\n", id);
    return 0;
  }
  return Fail(absl::InvalidArgumentError("a subcommand is required: create, list or delete"));
}

}  // namespace

void RegisterTokenComponent(Components& components) {
  auto s = std::make_shared<TokenSettings>();
  Component c;
  c.name = "token";
  c.description = "Manage bootstrap tokens for joining nodes (create, list, delete)";
  c.add_flags = [s](CLI::App* cmd) {
    cmd->add_option("--data-dir,-d", s->data_dir, "The server's data dir")->capture_default_str();
    cmd->add_option("--kubeconfig", s->kubeconfig,
                    "Admin kubeconfig (default: DATA_DIR/admin.kubeconfig)");
    s->create = cmd->add_subcommand("create", "Create a bootstrap token and print it");
    s->create->add_option("--ttl", s->ttl, "Lifetime of the token (0: forever)")
        ->capture_default_str();
    s->create->add_option("--description", s->description, "Human-readable description");
    s->create->add_option("--groups", s->groups, "Extra groups (system:bootstrappers:...)")
        ->delimiter(',')
        ->capture_default_str();
    s->create->add_option("--usages", s->usages, "signing, authentication")
        ->delimiter(',')
        ->capture_default_str();
    s->create->add_flag("--print-join-command", s->print_join,
                        "Print the `korral agent` command that joins a node with the token");
    s->list = cmd->add_subcommand("list", "List the bootstrap tokens");
    s->del = cmd->add_subcommand("delete", "Delete a bootstrap token");
    s->del->add_option("token", s->id, "Token ID or token")->required();
    // --data-dir / --kubeconfig may follow the subcommand too.
    for (CLI::App* sub : {s->create, s->list, s->del}) sub->fallthrough();
    cmd->require_subcommand(1);
  };
  c.run = [s]() -> int { return Run(*s); };
  components.push_back(std::move(c));
}

}  // namespace korral::cmd
