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
#include "korral/cri/cri.h"

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

namespace {

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
constexpr char kDockerManifestList[] = "application/vnd.docker.distribution.manifest.list.v2+json";

bool IsGzip(const std::string& data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

absl::StatusOr<ImageArchive> ReadOciLayout(const std::map<std::string, std::string>& files) {
  auto blob = [&](const std::string& digest) -> absl::StatusOr<std::string> {
    auto colon = digest.find(':');
    if (colon == std::string::npos) return Err("bad digest \"" + digest + "\"");
    auto it = files.find("blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1));
    if (it == files.end()) return Err("missing blob " + digest);
    return it->second;
  };
  Json index = Json::parse(files.at("index.json"), nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() ||
      index["manifests"].empty()) {
    return Err("OCI archive has no manifests");
  }
  Json desc = index["manifests"][0];
  const Json annotations = desc.value("annotations", Json::object());
  ImageArchive img;
  img.ref = annotations.value("io.containerd.image.name", "");
  if (img.ref.empty()) img.ref = annotations.value("org.opencontainers.image.ref.name", "");
  if (img.ref.empty()) return Err("OCI archive names no image (no io.containerd.image.name)");
  if (img.ref.find('/') == std::string::npos && img.ref.find(':') == std::string::npos) {
    // org.opencontainers.image.ref.name may be a bare tag.
    return Err("OCI archive names only a tag (\"" + img.ref + "\"), not an image");
  }
  img.ref = cri::NormalizeImageName(img.ref);
  // An image index (multi-platform): its linux/amd64 manifest, else the first.
  for (int depth = 0; depth < 2; ++depth) {
    std::string mt = desc.value("mediaType", "");
    if (mt != kOciIndex && mt != kDockerManifestList) break;
    KORRAL_ASSIGN_OR_RETURN(std::string data, blob(desc.value("digest", "")));
    Json sub = Json::parse(data, nullptr, false);
    if (!sub.is_object() || !sub.contains("manifests") || !sub["manifests"].is_array() ||
        sub["manifests"].empty()) {
      return Err("image index without manifests");
    }
    desc = sub["manifests"][0];
    for (const auto& m : sub["manifests"]) {
      const Json p = m.value("platform", Json::object());
      if (p.value("os", "") == "linux" && p.value("architecture", "") == "amd64") {
        desc = m;
        break;
      }
    }
  }
  img.manifest_digest = desc.value("digest", "");
  img.manifest_media_type = desc.value("mediaType", kOciManifest);
  KORRAL_ASSIGN_OR_RETURN(img.manifest, blob(img.manifest_digest));
  Json manifest = Json::parse(img.manifest, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("config") || !manifest["config"].is_object() ||
      !manifest.contains("layers") || !manifest["layers"].is_array()) {
    return Err("bad image manifest " + img.manifest_digest);
  }
  img.config_digest = manifest["config"].value("digest", "");
  KORRAL_ASSIGN_OR_RETURN(img.config, blob(img.config_digest));
  for (const auto& l : manifest["layers"]) {
    ImageArchive::Layer layer;
    layer.digest = l.is_object() ? l.value("digest", "") : "";
    KORRAL_ASSIGN_OR_RETURN(layer.data, blob(layer.digest));
    img.layers.push_back(std::move(layer));
  }
  return img;
}

absl::StatusOr<ImageArchive> ReadDockerArchive(const std::map<std::string, std::string>& files) {
  Json list = Json::parse(files.at("manifest.json"), nullptr, false);
  if (!list.is_array() || list.empty() || !list[0].is_object()) {
    return Err("docker archive: manifest.json lists no image");
  }
  const Json& m = list[0];
  const Json tags = m.value("RepoTags", Json::array());
  if (!tags.is_array() || tags.empty() || !tags[0].is_string()) {
    return Err("docker archive has no RepoTags: save it with a name (docker save NAME:TAG)");
  }
  auto file = [&](const Json& name) -> absl::StatusOr<std::string> {
    if (!name.is_string()) return Err("docker archive: bad file name in manifest.json");
    auto it = files.find(name.get<std::string>());
    if (it == files.end()) return Err("docker archive: missing " + name.get<std::string>());
    return it->second;
  };
  ImageArchive img;
  img.ref = cri::NormalizeImageName(tags[0].get<std::string>());
  KORRAL_ASSIGN_OR_RETURN(img.config, file(m.value("Config", Json())));
  img.config_digest = "sha256:" + Sha256Hex(img.config);
  Json layers = Json::array();
  const Json names = m.value("Layers", Json::array());
  if (!names.is_array()) return Err("docker archive: Layers is not a list");
  for (const auto& n : names) {
    ImageArchive::Layer layer;
    KORRAL_ASSIGN_OR_RETURN(layer.data, file(n));
    layer.digest = "sha256:" + Sha256Hex(layer.data);
    layers.push_back(
        {{"mediaType", IsGzip(layer.data) ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                          : "application/vnd.oci.image.layer.v1.tar"},
         {"digest", layer.digest},
         {"size", layer.data.size()}});
    img.layers.push_back(std::move(layer));
  }
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", kOciManifest},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", img.config_digest},
                     {"size", img.config.size()}}},
                   {"layers", layers}};
  img.manifest = manifest.dump();
  img.manifest_digest = "sha256:" + Sha256Hex(img.manifest);
  img.manifest_media_type = kOciManifest;
  return img;
}

}  // namespace

absl::StatusOr<ImageArchive> ReadImageArchive(const std::string& archive) {
  KORRAL_ASSIGN_OR_RETURN(auto files, ReadTarFiles(archive));
  if (files.count("index.json")) return ReadOciLayout(files);
  if (files.count("manifest.json")) return ReadDockerArchive(files);
  return Err(
      "not an image archive (neither an OCI layout's index.json nor a docker archive's "
      "manifest.json)");
}

absl::Status PushToRegistry(const ImageArchive& image, int port, const std::string& repo,
                            const std::string& tag) {
  std::vector<std::pair<const std::string*, const std::string*>> blobs;  // digest, data
  for (const auto& l : image.layers) blobs.emplace_back(&l.digest, &l.data);
  blobs.emplace_back(&image.config_digest, &image.config);
  for (const auto& [digest_ptr, data] : blobs) {
    const std::string& digest = *digest_ptr;
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
    KORRAL_ASSIGN_OR_RETURN(auto put, Http(port, "PUT", loc, *data, "application/octet-stream"));
    if (put.status != 201) {
      return Err(fmt::format("registry: upload {}: HTTP {} {}", digest, put.status, put.body));
    }
  }
  KORRAL_ASSIGN_OR_RETURN(
      auto put, Http(port, "PUT", fmt::format("/v2/{}/manifests/{}", repo, tag), image.manifest,
                     image.manifest_media_type.empty() ? kOciManifest : image.manifest_media_type));
  if (put.status != 201) {
    return Err(fmt::format("registry: manifest: HTTP {} {}", put.status, put.body));
  }
  return absl::OkStatus();
}

}  // namespace korral::agent
