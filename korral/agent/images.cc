#include "korral/agent/images.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fmt/format.h"
#include "korral/base/status.h"

namespace korral::agent {
namespace {

using Json = nlohmann::json;

absl::Status Err(const std::string& m) {
  return absl::Status(absl::StatusCode::kInternal, absl::string_view(m));
}

void Octal(char* field, size_t width, uint64_t value) {
  // width-1 digits + NUL
  std::string s = fmt::format("{:0{}o}", value, width - 1);
  std::memcpy(field, s.data(), std::min(s.size(), width - 1));
  field[width - 1] = '\0';
}

std::string Header(const TarEntry& e, uint64_t size) {
  std::array<char, 512> h{};
  std::string name = e.name;
  if (e.type == TarEntry::kDir && (name.empty() || name.back() != '/')) name += '/';
  std::string prefix;
  if (name.size() > 100) {
    auto cut = name.rfind('/', name.size() - 2);
    while (cut != std::string::npos && name.size() - cut - 1 > 100) cut = std::string::npos;
    if (cut != std::string::npos) {
      prefix = name.substr(0, cut);
      name = name.substr(cut + 1);
    }
  }
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  Octal(&h[100], 8, static_cast<uint64_t>(e.mode));
  Octal(&h[108], 8, 0);
  Octal(&h[116], 8, 0);
  Octal(&h[124], 12, size);
  Octal(&h[136], 12, 1700000000);  // fixed mtime: reproducible digests
  std::memset(&h[148], ' ', 8);
  h[156] = e.type == TarEntry::kFile ? '0' : e.type == TarEntry::kDir ? '5' : '2';
  if (e.type == TarEntry::kSymlink) {
    std::memcpy(&h[157], e.data.data(), std::min<size_t>(e.data.size(), 100));
  }
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memcpy(&h[265], "root", 4);
  std::memcpy(&h[297], "root", 4);
  std::memcpy(&h[345], prefix.data(), std::min<size_t>(prefix.size(), 155));
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  std::string chk = fmt::format("{:06o}", sum);
  std::memcpy(&h[148], chk.data(), 6);
  h[154] = '\0';
  h[155] = ' ';
  return std::string(h.data(), h.size());
}

// A minimal HTTP/1.1 exchange on 127.0.0.1 (the registry); Connection: close.
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

absl::StatusOr<HttpResponse> Http(int port, const std::string& method, const std::string& target,
                                  const std::string& body, const std::string& content_type) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err("socket");
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return absl::UnavailableError(
        absl::string_view(fmt::format("registry 127.0.0.1:{}: {}", port, strerror(errno))));
  }
  std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
                                method, target, port);
  if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
  req += fmt::format("Content-Length: {}\r\n\r\n", body.size());
  req += body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return Err("registry: send failed");
    }
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[16384];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (method == "HEAD" && resp.find("\r\n\r\n") != std::string::npos) break;
  }
  ::close(fd);
  HttpResponse out;
  auto end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/", 0) != 0 || end == std::string::npos) return Err("registry: bad reply");
  out.status = std::atoi(resp.c_str() + resp.find(' ') + 1);
  std::istringstream hs(resp.substr(0, end));
  std::string line;
  std::getline(hs, line);
  while (std::getline(hs, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon);
    for (auto& c : k) c = static_cast<char>(std::tolower(c));
    std::string v = line.substr(colon + 1);
    while (!v.empty() && v[0] == ' ') v.erase(0, 1);
    out.headers[k] = v;
  }
  out.body = resp.substr(end + 4);
  return out;
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  std::string out;
  for (unsigned char c : md) out += fmt::format("{:02x}", c);
  return out;
}

std::string MakeTar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    uint64_t size = e.type == TarEntry::kFile ? e.data.size() : 0;
    out += Header(e, size);
    if (e.type == TarEntry::kFile) {
      out += e.data;
      out.append((512 - e.data.size() % 512) % 512, '\0');
    }
  }
  out.append(1024, '\0');
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ReadTarFiles(const std::string& tar) {
  std::map<std::string, std::string> out;
  size_t off = 0;
  while (off + 512 <= tar.size()) {
    const char* h = tar.data() + off;
    if (h[0] == '\0') break;
    std::string name(h, strnlen(h, 100));
    std::string prefix(h + 345, strnlen(h + 345, 155));
    if (!prefix.empty()) name = prefix + "/" + name;
    uint64_t size = std::strtoull(std::string(h + 124, 12).c_str(), nullptr, 8);
    char type = h[156];
    off += 512;
    if (off + size > tar.size()) return Err("truncated tar");
    if (type == '0' || type == '\0') {
      while (name.rfind("./", 0) == 0) name = name.substr(2);
      out[name] = tar.substr(off, size);
    }
    off += (size + 511) / 512 * 512;
  }
  return out;
}

absl::StatusOr<std::vector<TarEntry>> BusyboxRootfs(const std::string& busybox_path) {
  std::ifstream in(busybox_path, std::ios::binary);
  if (!in) return Err("cannot read " + busybox_path + " (install busybox-static)");
  std::string bin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<TarEntry> e;
  for (const char* d : {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "etc",
                        "var", "var/www", "root", "home"}) {
    e.push_back({TarEntry::kDir, d, "", 0755});
  }
  e.push_back({TarEntry::kDir, "tmp", "", 01777});
  e.push_back({TarEntry::kFile, "bin/busybox", bin, 0755});
  e.push_back({TarEntry::kFile, "etc/passwd",
               "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
               0644});
  e.push_back({TarEntry::kFile, "etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644});
  // Applet symlinks: `busybox --list-full` prints "bin/sh", "usr/sbin/httpd", ...
  std::string cmd = busybox_path + " --list-full";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return Err("cannot run " + cmd);
  char line[512];
  std::set<std::string> seen = {"bin/busybox"};
  while (fgets(line, sizeof line, p.get())) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty() || !seen.insert(s).second) continue;
    auto slash = s.rfind('/');
    if (slash != std::string::npos) {
      std::string dir = s.substr(0, slash);
      if (dir != "bin" && dir != "sbin" && dir != "usr/bin" && dir != "usr/sbin") {
        if (seen.insert(dir + "/").second) e.push_back({TarEntry::kDir, dir, "", 0755});
      }
    }
    e.push_back({TarEntry::kSymlink, s, "/bin/busybox", 0777});
  }
  return e;
}

OciImage BuildImage(const std::vector<TarEntry>& rootfs, const std::vector<std::string>& cmd) {
  OciImage img;
  img.layer = MakeTar(rootfs);
  img.layer_digest = "sha256:" + Sha256Hex(img.layer);
  Json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"created", "2023-11-14T22:13:20Z"},
                 {"config",
                  {{"Env", Json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/"
                                        "bin:/sbin:/bin"})},
                   {"Cmd", cmd}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", Json::array({img.layer_digest})}}}};
  img.config = config.dump();
  img.config_digest = "sha256:" + Sha256Hex(img.config);
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", img.config_digest},
                     {"size", img.config.size()}}},
                   {"layers", Json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                            {"digest", img.layer_digest},
                                            {"size", img.layer.size()}}})}};
  img.manifest = manifest.dump();
  img.manifest_digest = "sha256:" + Sha256Hex(img.manifest);
  return img;
}

std::string OciArchive(const OciImage& image, const std::string& ref) {
  std::string tag = ref.substr(ref.rfind(':') + 1);
  Json index = {
      {"schemaVersion", 2},
      {"manifests", Json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", image.manifest_digest},
                                  {"size", image.manifest.size()},
                                  {"annotations",
                                   {{"io.containerd.image.name", ref},
                                    {"org.opencontainers.image.ref.name", tag}}}}})}};
  auto blob = [](const std::string& digest) { return "blobs/sha256/" + digest.substr(7); };
  std::vector<TarEntry> e = {
      {TarEntry::kFile, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 0644},
      {TarEntry::kFile, "index.json", index.dump(), 0644},
      {TarEntry::kDir, "blobs", "", 0755},
      {TarEntry::kDir, "blobs/sha256", "", 0755},
      {TarEntry::kFile, blob(image.layer_digest), image.layer, 0644},
      {TarEntry::kFile, blob(image.config_digest), image.config, 0644},
      {TarEntry::kFile, blob(image.manifest_digest), image.manifest, 0644},
  };
  return MakeTar(e);
}

absl::StatusOr<std::pair<OciImage, std::string>> ReadOciArchive(const std::string& archive) {
  KORRAL_ASSIGN_OR_RETURN(auto files, ReadTarFiles(archive));
  auto idx = files.find("index.json");
  if (idx == files.end()) return Err("not an OCI archive (no index.json)");
  Json index = Json::parse(idx->second, nullptr, false);
  if (!index.is_object() || index.value("manifests", Json::array()).empty()) {
    return Err("OCI archive has no manifests");
  }
  const Json& m = index["manifests"][0];
  std::string ref = m.value("annotations", Json::object()).value("io.containerd.image.name", "");
  if (ref.empty()) {
    ref = m.value("annotations", Json::object()).value("org.opencontainers.image.ref.name", "");
  }
  auto blob = [&](const std::string& digest) -> absl::StatusOr<std::string> {
    auto it = files.find("blobs/sha256/" + digest.substr(digest.find(':') + 1));
    if (it == files.end()) return Err("missing blob " + digest);
    return it->second;
  };
  OciImage img;
  img.manifest_digest = m.value("digest", "");
  KORRAL_ASSIGN_OR_RETURN(img.manifest, blob(img.manifest_digest));
  Json manifest = Json::parse(img.manifest, nullptr, false);
  if (!manifest.is_object() || manifest.value("layers", Json::array()).size() != 1) {
    // TODO(korral): multi-layer images for the registry push.
    return Err("only single-layer OCI images can be pushed to the local registry");
  }
  img.config_digest = manifest["config"].value("digest", "");
  KORRAL_ASSIGN_OR_RETURN(img.config, blob(img.config_digest));
  img.layer_digest = manifest["layers"][0].value("digest", "");
  KORRAL_ASSIGN_OR_RETURN(img.layer, blob(img.layer_digest));
  return std::make_pair(img, ref);
}

absl::Status PushToRegistry(const OciImage& image, int port, const std::string& repo,
                            const std::string& tag) {
  for (const auto* b : {&image.layer, &image.config}) {
    std::string digest = b == &image.layer ? image.layer_digest : image.config_digest;
    KORRAL_ASSIGN_OR_RETURN(
        auto head, Http(port, "HEAD", fmt::format("/v2/{}/blobs/{}", repo, digest), "", ""));
    if (head.status == 200) continue;
    KORRAL_ASSIGN_OR_RETURN(auto start,
                            Http(port, "POST", fmt::format("/v2/{}/blobs/uploads/", repo), "", ""));
    if (start.status != 202 || !start.headers.count("location")) {
      return Err(fmt::format("registry: start upload: HTTP {} {}", start.status, start.body));
    }
    std::string loc = start.headers["location"];
    auto scheme = loc.find("://");
    if (scheme != std::string::npos) loc = loc.substr(loc.find('/', scheme + 3));
    loc += (loc.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + digest;
    KORRAL_ASSIGN_OR_RETURN(auto put, Http(port, "PUT", loc, *b, "application/octet-stream"));
    if (put.status != 201) {
      return Err(fmt::format("registry: upload {}: HTTP {} {}", digest, put.status, put.body));
    }
  }
  KORRAL_ASSIGN_OR_RETURN(
      auto put, Http(port, "PUT", fmt::format("/v2/{}/manifests/{}", repo, tag), image.manifest,
                     "application/vnd.oci.image.manifest.v1+json"));
  if (put.status != 201) {
    return Err(fmt::format("registry: manifest: HTTP {} {}", put.status, put.body));
  }
  return absl::OkStatus();
}

}  // namespace korral::agent
