// korral/controllers/bootstraptoken/tokencleaner.cc
#include "korral/controllers/bootstraptoken/tokencleaner.h"

#include "korral/base/log.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace {

constexpr char kTokenType[] = "bootstrap.kubernetes.io/token";

std::string Base64Decode(const std::string& in) {
  static const std::string kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto pos = kChars.find(c);
    if (pos == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

TokenCleaner::TokenCleaner(ControllerContext& ctx)
    : ctx_(ctx),
      secrets_(ctx.informers->For(client::resources::Secrets())),
      worker_("tokencleaner", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler h;
  auto enqueue = [this](const client::ObjectPtr& s) {
    if (NamespaceOf(*s) == "kube-system" && s->value("type", "") == kTokenType) {
      worker_.Add(client::ObjectKey(*s));
    }
  };
  h.on_add = enqueue;
  h.on_update = [enqueue](const client::ObjectPtr&, const client::ObjectPtr& s) { enqueue(s); };
  secrets_->AddEventHandler(std::move(h));
}

absl::Status TokenCleaner::Sync(const std::string& key) {
  auto secret = secrets_->indexer().Get(key);
  if (!secret || IsBeingDeleted(*secret)) return absl::OkStatus();
  std::string exp;
  if (secret->contains("data") && (*secret)["data"].contains("expiration")) {
    exp = Base64Decode((*secret)["data"].value("expiration", ""));
  } else if (secret->contains("stringData") && (*secret)["stringData"].contains("expiration")) {
    exp = (*secret)["stringData"].value("expiration", "");
  }
  if (exp.empty()) return absl::OkStatus();
  auto t = ParseTime(exp);
  if (!t) return absl::OkStatus();  // upstream ignores unparsable expirations
  auto now = ctx_.clock->Now();
  if (*t > now) {
    worker_.AddAfter(key, *t - now);
    return absl::OkStatus();
  }
  KLOG(Info, "token cleaner: deleting expired bootstrap token {}", key);
  auto d = ctx_.client->Delete(client::resources::Secrets(), NamespaceOf(*secret), NameOf(*secret),
                               {{"kind", "DeleteOptions"},
                                {"apiVersion", "v1"},
                                {"preconditions", {{"uid", UidOf(*secret)}}}});
  if (!d.ok() && !client::IsNotFound(d.status()) && !client::IsConflict(d.status())) {
    return d.status();
  }
  return absl::OkStatus();
}

ControllerDescriptor TokenCleanerControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "token-cleaner-controller";
  d.aliases = {"tokencleaner"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<TokenCleaner>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
