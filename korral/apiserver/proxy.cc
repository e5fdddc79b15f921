// korral/apiserver/proxy.cc: see proxy.h.
#include "korral/apiserver/proxy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/apiserver/store.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/streaming/conn.h"

namespace korral::apiserver {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxErrorBody = 1024 * 1024;

http::Response StatusResponse(const absl::Status& s) {
  http::Response r;
  r.status = apierrors::HttpCode(s);
  r.body = apierrors::ToStatusObject(s).dump();
  return r;
}

// A Status like the ones Go's HTTP errors become upstream (code 500, no reason).
absl::Status UpstreamError(std::string message) {
  Json s = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", Json::object()},
            {"status", "Failure"},
            {"message", std::move(message)},
            {"code", 500}};
  return apierrors::FromStatusObject(absl::StatusCode::kInternal, s);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string EncodeQuery(const http::HeaderList& query,
                        std::initializer_list<std::string_view> drop) {
  std::string out;
  for (const auto& [k, v] : query) {
    if (std::find(drop.begin(), drop.end(), k) != drop.end()) continue;
    out += out.empty() ? "?" : "&";
    out += UrlEncode(k) + "=" + UrlEncode(v);
  }
  return out;
}

std::string GoList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

std::vector<std::string> Names(const Json& spec, const char* field) {
  std::vector<std::string> out;
  auto it = spec.find(field);
  if (it == spec.end() || !it->is_array()) return out;
  for (const Json& c : *it) {
    if (c.is_object() && c.contains("name") && c["name"].is_string()) {
      out.push_back(c["name"].get<std::string>());
    }
  }
  return out;
}

// Upstream's container choice for log/exec/attach (pkg/registry/core/pod/strategy.go).
absl::StatusOr<std::string> PickContainer(const Json& pod, const std::string& name,
                                          std::string_view requested) {
  Json spec = pod.value("spec", Json::object());
  auto containers = Names(spec, "containers");
  auto inits = Names(spec, "initContainers");
  auto ephemerals = Names(spec, "ephemeralContainers");
  if (requested.empty()) {
    if (containers.size() == 1) return containers[0];
    std::string msg =
        fmt::format("a container name must be specified for pod {}, choose one of: {}", name,
                    GoList(containers));
    if (!inits.empty()) msg += " or one of the init containers: " + GoList(inits);
    if (!ephemerals.empty()) msg += " or one of the ephemeral containers: " + GoList(ephemerals);
    return apierrors::NewBadRequest(msg);
  }
  for (const auto* list : {&containers, &inits, &ephemerals}) {
    if (std::find(list->begin(), list->end(), requested) != list->end()) {
      return std::string(requested);
    }
  }
  return apierrors::NewBadRequest(
      fmt::format("container {} is not valid for pod {}", requested, name));
}

struct Target {
  std::string host;
  uint16_t port = 10250;
};

absl::StatusOr<Target> KubeletTarget(const Json& node, const std::string& name) {
  Target t;
  Json status = node.value("status", Json::object());
  if (status.contains("daemonEndpoints")) {
    int64_t port =
        status["daemonEndpoints"].value("kubeletEndpoint", Json::object()).value("Port", 0);
    if (port > 0 && port < 65536) t.port = static_cast<uint16_t>(port);
  }
  for (const char* type : {"InternalIP", "Hostname", "ExternalIP"}) {
    for (const Json& a : status.value("addresses", Json::array())) {
      if (a.is_object() && a.value("type", "") == type && !a.value("address", "").empty()) {
        t.host = a.value("address", "");
        return t;
      }
    }
  }
  return apierrors::NewBadRequest(
      fmt::format("node {} has no address to reach its kubelet (status.addresses is empty)", name));
}

std::string HostPort(const Target& t) {
  return t.host.find(':') != std::string::npos ? "[" + t.host + "]:" + std::to_string(t.port)
                                               : t.host + ":" + std::to_string(t.port);
}

// ---- HTTP/1.1 to the kubelet ----

struct UpstreamReply {
  int status = 0;
  http::HeaderList headers;
  std::string leftover;  // bytes read past the head
  http::ConnPtr conn;

  std::string Header(std::string_view name) const {
    std::string n = Lower(name);
    for (const auto& [k, v] : headers) {
      if (Lower(k) == n) return v;
    }
    return "";
  }
};

absl::StatusOr<UpstreamReply> RoundTrip(const KubeletClientOptions& options, const Target& target,
                                        const http::Request& req, const std::string& path_query,
                                        bool upgrade) {
  std::string url = "https://" + HostPort(target) + path_query;
  streaming::TlsClientOptions tls;
  tls.ca_pem = options.ca_pem;
  tls.cert_pem = options.cert_pem;
  tls.key_pem = options.key_pem;
  auto conn = streaming::DialTls(target.host, target.port, tls, options.dial_timeout);
  if (!conn.ok()) {
    return UpstreamError(fmt::format("{} \"{}\": {}", req.method == "POST" ? "Post" : "Get", url,
                                     StatusMessage(conn.status())));
  }
  std::string head =
      req.method + " " + path_query + " HTTP/1.1\r\nHost: " + HostPort(target) + "\r\n";
  static const char* const kDrop[] = {"host",
                                      "authorization",
                                      "content-length",
                                      "transfer-encoding",
                                      "keep-alive",
                                      "te",
                                      "proxy-authorization",
                                      "proxy-connection",
                                      "cookie"};
  for (const auto& [k, v] : req.headers) {
    std::string lk = Lower(k);
    if (std::find(std::begin(kDrop), std::end(kDrop), lk) != std::end(kDrop)) continue;
    if (lk.rfind("impersonate-", 0) == 0) continue;
    if (!upgrade && (lk == "connection" || lk == "upgrade")) continue;
    if (v.find_first_of("\r\n") != std::string::npos) continue;
    head += k + ": " + v + "\r\n";
  }
  if (!upgrade) head += "Connection: close\r\n";
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head += "\r\n";
  head += req.body;
  if (auto s = (*conn)->Write(head); !s.ok()) {
    return UpstreamError(fmt::format("Get \"{}\": {}", url, StatusMessage(s)));
  }
  UpstreamReply reply;
  std::string buf;
  char tmp[8192];
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > kMaxHeadBytes) return UpstreamError("kubelet response head too large");
    auto n = (*conn)->Read(tmp, sizeof tmp);
    if (!n.ok() || *n == 0) {
      return UpstreamError(fmt::format("Get \"{}\": kubelet closed the connection: {}", url,
                                       n.ok() ? "EOF" : StatusMessage(n.status())));
    }
    buf.append(tmp, *n);
  }
  std::string_view h(buf.data(), end);
  size_t line_end = h.find("\r\n");
  std::string_view status_line = h.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
    return UpstreamError("malformed response from the kubelet");
  }
  int code = 0;
  std::from_chars(status_line.data() + 9, status_line.data() + 12, code);
  reply.status = code;
  while (line_end != std::string_view::npos) {
    size_t start = line_end + 2;
    line_end = h.find("\r\n", start);
    std::string_view line =
        h.substr(start, line_end == std::string_view::npos ? h.npos : line_end - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    reply.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  reply.leftover = buf.substr(end + 4);
  reply.conn = std::move(*conn);
  return reply;
}

// Reads a response body: Content-Length, chunked, or up to EOF.
class BodyReader {
 public:
  explicit BodyReader(UpstreamReply reply) : reply_(std::move(reply)), buf_(reply_.leftover) {
    if (Lower(reply_.Header("Transfer-Encoding")).find("chunked") != std::string::npos) {
      mode_ = kChunked;
    } else if (std::string cl = reply_.Header("Content-Length"); !cl.empty()) {
      mode_ = kLength;
      std::from_chars(cl.data(), cl.data() + cl.size(), remaining_);
    }
  }
  http::Conn* conn() { return reply_.conn.get(); }

  // The next piece of body; nullopt at the end; an error if the kubelet connection failed.
  absl::StatusOr<std::optional<std::string>> Next() {
    while (true) {
      switch (mode_) {
        case kDone:
          return std::nullopt;
        case kLength:
          if (remaining_ == 0) {
            mode_ = kDone;
            continue;
          }
          if (!buf_.empty()) {
            size_t k = std::min<size_t>(buf_.size(), remaining_);
            std::string out = buf_.substr(0, k);
            buf_.erase(0, k);
            remaining_ -= k;
            return out;
          }
          break;
        case kEof:
          if (!buf_.empty()) return std::exchange(buf_, {});
          if (eof_) return std::nullopt;
          break;
        case kChunked: {
          if (chunk_left_ > 0) {
            if (!buf_.empty()) {
              size_t k = std::min<size_t>(buf_.size(), chunk_left_);
              std::string out = buf_.substr(0, k);
              buf_.erase(0, k);
              chunk_left_ -= k;
              if (chunk_left_ == 0) need_crlf_ = true;
              return out;
            }
            break;
          }
          if (need_crlf_) {
            if (buf_.size() < 2) break;
            if (buf_.compare(0, 2, "\r\n") != 0) return absl::DataLossError("bad chunk framing");
            buf_.erase(0, 2);
            need_crlf_ = false;
          }
          size_t eol = buf_.find("\r\n");
          if (eol == std::string::npos) {
            if (buf_.size() > 4096) return absl::DataLossError("bad chunk size line");
            break;
          }
          size_t size = 0;
          auto [p, ec] = std::from_chars(buf_.data(), buf_.data() + eol, size, 16);
          if (ec != std::errc() || p == buf_.data()) return absl::DataLossError("bad chunk size");
          buf_.erase(0, eol + 2);
          if (size == 0) {
            mode_ = kDone;  // trailers are ignored
            continue;
          }
          chunk_left_ = size;
          continue;
        }
      }
      if (eof_) {
        if (mode_ == kEof) return std::nullopt;
        return absl::DataLossError("kubelet closed the connection mid-body");
      }
      char tmp[16 * 1024];
      auto n = reply_.conn->Read(tmp, sizeof tmp);
      if (!n.ok()) return n.status();
      if (*n == 0) {
        eof_ = true;
      } else {
        buf_.append(tmp, *n);
      }
    }
  }

 private:
  enum Mode { kEof, kLength, kChunked, kDone };
  UpstreamReply reply_;
  std::string buf_;
  Mode mode_ = kEof;
  size_t remaining_ = 0;
  size_t chunk_left_ = 0;
  bool need_crlf_ = false;
  bool eof_ = false;
};

class ProxyStream : public http::StreamBody {
 public:
  explicit ProxyStream(std::shared_ptr<BodyReader> reader) : reader_(std::move(reader)) {}
  void Start(std::shared_ptr<http::StreamWriter> writer) override {
    std::thread([reader = reader_, writer] {
      while (true) {
        auto piece = reader->Next();
        if (!piece.ok()) {
          KLOG(Info, "proxy: kubelet stream ended: {}", StatusMessage(piece.status()));
          break;
        }
        if (!piece->has_value()) break;
        if (!writer->Write(std::move(**piece))) break;
      }
      writer->Close();
      reader->conn()->Close();
    }).detach();
  }
  void OnClientGone() override { reader_->conn()->Close(); }

 private:
  std::shared_ptr<BodyReader> reader_;
};

class SpliceUpgrade : public http::Upgrade {
 public:
  SpliceUpgrade(http::ConnPtr upstream, std::string leftover)
      : upstream_(std::move(upstream)), leftover_(std::move(leftover)) {}
  void Start(http::ConnPtr client) override {
    std::thread([up = std::move(upstream_), client = std::move(client),
                 leftover = std::move(leftover_)]() mutable {
      streaming::Splice(*client, *up, std::move(leftover));
    }).detach();
  }

 private:
  http::ConnPtr upstream_;
  std::string leftover_;
};

bool IsUpgrade(const http::Request& req) {
  return !req.Header("Upgrade").empty() &&
         Lower(req.Header("Connection")).find("upgrade") != std::string::npos;
}

// Proxies to the kubelet and turns its answer into ours.
http::Response Forward(const KubeletClientOptions& options, const Target& target,
                       const http::Request& req, const std::string& path_query,
                       std::string_view content_type_default) {
  bool upgrade = IsUpgrade(req);
  auto reply = RoundTrip(options, target, req, path_query, upgrade);
  if (!reply.ok()) return StatusResponse(reply.status());
  if (reply->status == 101) {
    if (!upgrade) return StatusResponse(UpstreamError("kubelet switched protocols unasked"));
    http::Response r;
    r.status = 101;
    r.content_type.clear();
    for (const auto& [k, v] : reply->headers) {
      std::string lk = Lower(k);
      if (lk == "upgrade" || lk == "connection" || lk.rfind("sec-websocket-", 0) == 0 ||
          lk == "x-stream-protocol-version") {
        r.headers.emplace_back(k, v);
      }
    }
    r.upgrade = std::make_shared<SpliceUpgrade>(std::move(reply->conn), std::move(reply->leftover));
    return r;
  }
  int status = reply->status;
  std::string content_type = reply->Header("Content-Type");
  auto reader = std::make_shared<BodyReader>(std::move(*reply));
  http::Response r;
  r.status = status;
  r.content_type = content_type.empty() ? std::string(content_type_default) : content_type;
  if (status == 200) {
    r.stream = std::make_shared<ProxyStream>(reader);
    return r;
  }
  // Errors: pass the (bounded) body through, e.g. the kubelet's Status.
  std::string body;
  while (body.size() <= kMaxErrorBody) {
    auto piece = reader->Next();
    if (!piece.ok() || !piece->has_value()) break;
    body += **piece;
  }
  reader->conn()->Close();
  r.body = std::move(body);
  return r;
}

absl::Status ValidateLogQuery(const http::Request& req) {
  std::vector<apierrors::Cause> causes;
  auto integer = [&](const char* name, int64_t min, const char* must) {
    auto v = req.Query(name);
    if (!v) return;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size()) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: \"{}\": must be an integer", *v), name});
    } else if (n < min) {
      causes.push_back({"FieldValueInvalid", fmt::format("Invalid value: {}: {}", n, must), name});
    }
  };
  integer("tailLines", 0, "must be greater than or equal to 0");
  integer("limitBytes", 1, "must be greater than 0");
  integer("sinceSeconds", 1, "must be greater than 0");
  if (req.Query("sinceSeconds") && req.Query("sinceTime")) {
    causes.push_back({"FieldValueForbidden",
                      "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                      ""});
  }
  if (causes.empty()) return absl::OkStatus();
  return apierrors::NewInvalid("", "PodLogOptions", "", causes);
}

}  // namespace

NodeProxy::NodeProxy(Store* store, KubeletClientOptions options)
    : store_(store), options_(std::move(options)) {}

bool NodeProxy::ParseNodeProxyPath(std::string_view path, std::string* node, std::string* rest) {
  constexpr std::string_view kPrefix = "/api/v1/nodes/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view tail = path.substr(kPrefix.size());
  size_t slash = tail.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view after = tail.substr(slash + 1);
  if (after != "proxy" && after.substr(0, 6) != "proxy/") return false;
  *node = std::string(tail.substr(0, slash));
  *rest = after.size() > 5 ? std::string(after.substr(5)) : "/";
  return true;
}

http::Response NodeProxy::PodSubresource(http::Request& req, const std::string& ns,
                                         const std::string& name, const std::string& sub) {
  const bool streaming_verb = sub == "exec" || sub == "attach" || sub == "portforward";
  if (sub == "log" && req.method != "GET") {
    return StatusResponse(apierrors::NewMethodNotSupported("pods/log", req.method));
  }
  if (streaming_verb && req.method != "GET" && req.method != "POST") {
    return StatusResponse(apierrors::NewMethodNotSupported("pods/" + sub, req.method));
  }
  const api::ResourceType* pods = api::FindResourceType("", "v1", "pods");
  const api::ResourceType* nodes = api::FindResourceType("", "v1", "nodes");
  if (pods == nullptr || nodes == nullptr) return StatusResponse(apierrors::NewNotFoundPath());
  auto pod = store_->Get(*pods, ns, name, std::nullopt);
  if (!pod.ok()) return StatusResponse(pod.status());
  const Json& obj = (*pod)->object;
  std::string phase = obj.value("status", Json::object()).value("phase", "");
  std::string container;
  if (sub != "portforward") {
    auto c = PickContainer(obj, name, req.Query("container").value_or(""));
    if (!c.ok()) return StatusResponse(c.status());
    container = *c;
  }
  if (sub == "log") {
    if (auto s = ValidateLogQuery(req); !s.ok()) return StatusResponse(s);
  }
  if (streaming_verb && (phase == "Succeeded" || phase == "Failed")) {
    std::string msg =
        sub == "exec" ? "cannot exec into a container in a completed pod; current phase is " + phase
        : sub == "attach"
            ? "cannot attach a container in a completed pod; current phase is " + phase
            : "unable to forward port because pod is not running. Current status=" + phase;
    return StatusResponse(apierrors::NewBadRequest(msg));
  }
  std::string node_name = obj.value("spec", Json::object()).value("nodeName", "");
  if (node_name.empty()) {
    return StatusResponse(
        apierrors::NewBadRequest(fmt::format("pod {} does not have a host assigned", name)));
  }
  if (streaming_verb && phase != "Running") {
    return StatusResponse(apierrors::NewBadRequest(fmt::format(
        "pod {} is not running (current phase is {})", name, phase.empty() ? "unknown" : phase)));
  }
  auto node = store_->Get(*nodes, "", node_name, std::nullopt);
  if (!node.ok()) return StatusResponse(node.status());
  auto target = KubeletTarget((*node)->object, node_name);
  if (!target.ok()) return StatusResponse(target.status());
  std::string path;
  if (sub == "log") {
    path = "/containerLogs/" + UrlEncode(ns) + "/" + UrlEncode(name) + "/" + UrlEncode(container) +
           EncodeQuery(req.query, {"container", "insecureSkipTLSVerifyBackend", "pretty"});
    return Forward(options_, *target, req, path, "text/plain");
  }
  if (sub == "portforward") {
    path = "/portForward/" + UrlEncode(ns) + "/" + UrlEncode(name) + EncodeQuery(req.query, {});
  } else {
    path = "/" + sub + "/" + UrlEncode(ns) + "/" + UrlEncode(name) + "/" + UrlEncode(container) +
           EncodeQuery(req.query, {"container"});
  }
  if (!IsUpgrade(req)) {
    return StatusResponse(apierrors::NewBadRequest(
        fmt::format("Upgrade request required: pods/{} needs a WebSocket or SPDY upgrade", sub)));
  }
  return Forward(options_, *target, req, path, "application/json");
}

http::Response NodeProxy::NodeProxyRequest(http::Request& req, const std::string& node_name,
                                           const std::string& rest) {
  const api::ResourceType* nodes = api::FindResourceType("", "v1", "nodes");
  if (nodes == nullptr) return StatusResponse(apierrors::NewNotFoundPath());
  auto node = store_->Get(*nodes, "", node_name, std::nullopt);
  if (!node.ok()) return StatusResponse(node.status());
  auto target = KubeletTarget((*node)->object, node_name);
  if (!target.ok()) return StatusResponse(target.status());
  std::string path;
  for (size_t i = 0; i < rest.size();) {  // re-encode the decoded path, keeping '/'
    size_t j = rest.find('/', i);
    if (j == std::string::npos) j = rest.size();
    path += UrlEncode(rest.substr(i, j - i));
    if (j < rest.size()) path += "/";
    i = j + 1;
  }
  if (path.empty() || path[0] != '/') path = "/" + path;
  return Forward(options_, *target, req, path + EncodeQuery(req.query, {}), "text/plain");
}

}  // namespace korral::apiserver
