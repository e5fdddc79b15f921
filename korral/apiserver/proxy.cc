// korral/apiserver/proxy.cc: see proxy.h.
#include "korral/apiserver/proxy.h"

#include <arpa/inet.h>
#include <algorithm>
#include <cctype>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <random>
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
  bool tls = true;
  // For pods/services proxy over https: no client certificate, server not verified (as
  // upstream's proxy transport).
  bool anonymous_tls = false;
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
  std::string url = (target.tls ? "https://" : "http://") + HostPort(target) + path_query;
  streaming::TlsClientOptions tls;
  if (!target.anonymous_tls) {
    tls.ca_pem = options.ca_pem;
    tls.cert_pem = options.cert_pem;
    tls.key_pem = options.key_pem;
  }
  auto conn = target.tls ? streaming::DialTls(target.host, target.port, tls, options.dial_timeout)
                         : streaming::DialTcp(target.host, target.port, options.dial_timeout);
  if (!conn.ok()) {
    // Upstream's upgrade-aware proxy (exec, attach, port-forward) and its log/proxy transport
    // word a failed dial differently.
    if (upgrade) {
      return UpstreamError("error dialing backend: " + std::string(StatusMessage(conn.status())));
    }
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
  const http::HeaderList& headers() const { return reply_.headers; }

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
// `pod_backend`: the target is a pod (pods/services proxy): connection failures are 503 as
// upstream's "error trying to reach service", and the backend's response headers pass through.
http::Response Forward(const KubeletClientOptions& options, const Target& target,
                       const http::Request& req, const std::string& path_query,
                       std::string_view content_type_default, bool pod_backend = false) {
  bool upgrade = IsUpgrade(req);
  auto reply = RoundTrip(options, target, req, path_query, upgrade);
  if (!reply.ok() && pod_backend) {
    return StatusResponse(apierrors::NewServiceUnavailable(
        "error trying to reach service: " + std::string(StatusMessage(reply.status()))));
  }
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
  if (pod_backend) {
    static const char* const kHopByHop[] = {
        "connection",          "keep-alive", "proxy-authenticate",
        "proxy-authorization", "te",         "trailer",
        "transfer-encoding",   "upgrade",    "content-length",
        "content-type",        "date",       "server"};
    for (const auto& [k, v] : reader->headers()) {
      std::string lk = Lower(k);
      if (std::find(std::begin(kHopByHop), std::end(kHopByHop), lk) == std::end(kHopByHop)) {
        r.headers.emplace_back(k, v);
      }
    }
  }
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

// Upstream's utilnet.SplitSchemeNamePort: "name", "name:port" or "scheme:name:port", with the
// scheme "", "http" or "https".
bool SplitSchemeNamePort(std::string_view id, std::string* scheme, std::string* name,
                         std::string* port) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (true) {
    size_t j = id.find(':', i);
    parts.push_back(id.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  scheme->clear();
  port->clear();
  if (parts.size() == 1) {
    *name = parts[0];
  } else if (parts.size() == 2) {
    *name = parts[0];
    *port = parts[1];
  } else if (parts.size() == 3) {
    *scheme = parts[0];
    *name = parts[1];
    *port = parts[2];
  } else {
    return false;
  }
  return !name->empty() && (scheme->empty() || *scheme == "http" || *scheme == "https");
}

// Go's net.IP.IsGlobalUnicast for an address string: not loopback, link-local, multicast,
// unspecified or broadcast. Loopback is allowed when KORRAL_ALLOW_LOOPBACK_PROXY=1 is in the
// apiserver's environment (integration tests whose "pods" are local servers).
bool AddressAllowed(const std::string& ip) {
  static const bool allow_loopback = [] {
    const char* v = std::getenv("KORRAL_ALLOW_LOOPBACK_PROXY");
    return v != nullptr && std::string_view(v) == "1";
  }();
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    if (buf[0] == 127) return allow_loopback;
    if (buf[0] == 0 || buf[0] >= 224) return false;    // unspecified, multicast, broadcast
    if (buf[0] == 169 && buf[1] == 254) return false;  // link-local
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    static const unsigned char kZero[16] = {};
    unsigned char loopback[16] = {};
    loopback[15] = 1;
    if (std::memcmp(buf, loopback, 16) == 0) return allow_loopback;
    if (std::memcmp(buf, kZero, 16) == 0) return false;
    if (buf[0] == 0xff) return false;                             // multicast
    if (buf[0] == 0xfe && (buf[1] & 0xc0) == 0x80) return false;  // link-local
    return true;
  }
  return false;
}

std::string PodIP(const Json& pod) {
  const Json status = pod.value("status", Json::object());
  const Json ips = status.value("podIPs", Json::array());
  if (ips.is_array() && !ips.empty() && ips[0].is_object()) return ips[0].value("ip", "");
  return status.value("podIP", "");
}

// Re-encodes a decoded path, keeping '/'.
std::string EncodePath(const std::string& rest) {
  std::string path;
  for (size_t i = 0; i < rest.size();) {
    size_t j = rest.find('/', i);
    if (j == std::string::npos) j = rest.size();
    path += UrlEncode(rest.substr(i, j - i));
    if (j < rest.size()) path += "/";
    i = j + 1;
  }
  if (path.empty() || path[0] != '/') path = "/" + path;
  return path;
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

namespace korral::apiserver {

bool NodeProxy::ParseResourceProxyPath(std::string_view path, std::string* resource,
                                       std::string* ns, std::string* id, std::string* rest) {
  constexpr std::string_view kPrefix = "/api/v1/namespaces/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view tail = path.substr(kPrefix.size());
  // NS/RESOURCE/ID/proxy[/...]
  std::string_view parts[3];
  for (auto& part : parts) {
    size_t slash = tail.find('/');
    if (slash == std::string_view::npos || slash == 0) return false;
    part = tail.substr(0, slash);
    tail.remove_prefix(slash + 1);
  }
  if (parts[1] != "pods" && parts[1] != "services") return false;
  if (tail != "proxy" && tail.substr(0, 6) != "proxy/") return false;
  *ns = std::string(parts[0]);
  *resource = std::string(parts[1]);
  *id = std::string(parts[2]);
  *rest = std::string(tail.substr(5));  // "" (no trailing slash) or "/..."
  return true;
}

http::Response NodeProxy::ResourceProxyRequest(http::Request& req, const std::string& resource,
                                               const std::string& ns, const std::string& id,
                                               const std::string& rest) {
  static const char* const kMethods[] = {"GET",    "POST", "PUT",    "PATCH",
                                         "DELETE", "HEAD", "OPTIONS"};
  if (std::find(std::begin(kMethods), std::end(kMethods), req.method) == std::end(kMethods)) {
    return StatusResponse(apierrors::NewMethodNotSupported(resource + "/proxy", req.method));
  }
  std::string scheme, name, port;
  if (!SplitSchemeNamePort(id, &scheme, &name, &port)) {
    return StatusResponse(apierrors::NewBadRequest(
        fmt::format("invalid {} request \"{}\"", resource == "pods" ? "pod" : "service", id)));
  }
  const api::ResourceType* pods = api::FindResourceType("", "v1", "pods");
  if (pods == nullptr) return StatusResponse(apierrors::NewNotFoundPath());
  std::string host;
  if (resource == "pods") {
    auto pod = store_->Get(*pods, ns, name, std::nullopt);
    if (!pod.ok()) return StatusResponse(pod.status());
    const Json& obj = (*pod)->object;
    if (port.empty()) {  // the first declared container port, if any
      for (const Json& c : obj.value("spec", Json::object()).value("containers", Json::array())) {
        const Json ports = c.value("ports", Json::array());
        if (ports.is_array() && !ports.empty() && ports[0].is_object()) {
          port = std::to_string(ports[0].value("containerPort", 0));
          break;
        }
      }
    }
    host = PodIP(obj);
    if (!AddressAllowed(host)) {
      return StatusResponse(apierrors::NewBadRequest("address not allowed"));
    }
  } else {
    const api::ResourceType* services = api::FindResourceType("", "v1", "services");
    const api::ResourceType* endpoints = api::FindResourceType("", "v1", "endpoints");
    if (services == nullptr || endpoints == nullptr) {
      return StatusResponse(apierrors::NewNotFoundPath());
    }
    // A port number names the Service port with that number.
    if (!port.empty() && std::all_of(port.begin(), port.end(), ::isdigit)) {
      auto svc = store_->Get(*services, ns, name, std::nullopt);
      if (!svc.ok()) return StatusResponse(svc.status());
      bool found = false;
      for (const Json& p :
           (*svc)->object.value("spec", Json::object()).value("ports", Json::array())) {
        if (p.is_object() && std::to_string(p.value("port", 0)) == port) {
          port = p.value("name", "");
          found = true;
          break;
        }
      }
      if (!found) {
        return StatusResponse(apierrors::NewServiceUnavailable(
            fmt::format("no service port {} found for service \"{}\"", port, name)));
      }
    }
    auto eps = store_->Get(*endpoints, ns, name, std::nullopt);
    if (!eps.ok()) return StatusResponse(eps.status());
    const Json subsets = (*eps)->object.value("subsets", Json::array());
    if (!subsets.is_array() || subsets.empty()) {
      return StatusResponse(apierrors::NewServiceUnavailable(
          fmt::format("no endpoints available for service \"{}\"", name)));
    }
    // As upstream: start from a random subset and a random address; only addresses that are
    // pods with that IP qualify.
    thread_local std::mt19937 rng{std::random_device{}()};
    size_t ss_seed = rng() % subsets.size();
    for (size_t si = 0; si < subsets.size() && host.empty(); ++si) {
      const Json& ss = subsets[(ss_seed + si) % subsets.size()];
      const Json addrs = ss.value("addresses", Json::array());
      if (!addrs.is_array() || addrs.empty()) continue;
      for (const Json& sp : ss.value("ports", Json::array())) {
        if (!sp.is_object() || sp.value("name", "") != port) continue;
        size_t a_seed = rng() % addrs.size();
        for (size_t t = 0; t < addrs.size(); ++t) {
          const Json& addr = addrs[(a_seed + t) % addrs.size()];
          std::string ip = addr.value("ip", "");
          const Json ref = addr.value("targetRef", Json::object());
          if (ref.value("kind", "") != "Pod" || ref.value("namespace", ns) != ns) continue;
          auto pod = store_->Get(*pods, ns, ref.value("name", ""), std::nullopt);
          if (!pod.ok()) continue;
          bool matches = false;
          const Json& st = (*pod)->object.value("status", Json::object());
          for (const Json& pip : st.value("podIPs", Json::array())) {
            matches |= pip.is_object() && pip.value("ip", "") == ip;
          }
          if (!matches || !AddressAllowed(ip)) continue;
          host = ip;
          port = std::to_string(sp.value("port", 0));
          break;
        }
        if (!host.empty()) break;
      }
    }
    if (host.empty()) {
      return StatusResponse(apierrors::NewServiceUnavailable(
          fmt::format("no endpoints available for service \"{}\"", id)));
    }
  }
  if (rest.empty()) {
    // Upstream redirects ".../proxy" to ".../proxy/".
    http::Response r;
    r.status = 301;
    r.content_type = "text/html; charset=utf-8";
    size_t q = req.target.find('?');
    std::string location = req.target.substr(0, q) + "/";
    if (q != std::string::npos && q + 1 < req.target.size()) location += req.target.substr(q);
    r.headers.push_back({"Location", location});
    return r;
  }
  Target target;
  target.host = host;
  target.tls = scheme == "https";
  target.anonymous_tls = true;
  int64_t port_number = 0;
  if (port.empty()) {
    port_number = target.tls ? 443 : 80;
  } else {
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (ec != std::errc() || p != port.data() + port.size() || port_number <= 0 ||
        port_number > 65535) {
      // A named port on a pod: upstream resolves nothing either and dials "ip:name".
      return StatusResponse(apierrors::NewServiceUnavailable(
          fmt::format("error trying to reach service: dial tcp: address {}: invalid port", port)));
    }
  }
  target.port = static_cast<uint16_t>(port_number);
  // TODO(korral): upstream rewrites links in proxied HTML responses; korral passes bodies as-is.
  return Forward(options_, target, req, EncodePath(rest) + EncodeQuery(req.query, {}), "text/plain",
                 /*pod_backend=*/true);
}

}  // namespace korral::apiserver
