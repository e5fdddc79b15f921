// korral/agent/images.h: offline images built from the host's busybox-static (no internet):
// hand-made OCI image archives (oci-layout, index.json, blobs/sha256/...; one uncompressed
// layer), users' OCI and Docker archives read back, and a minimal registry v2 push so the local
// docker-registry can serve them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::agent {

// One tar entry.
struct TarEntry {
  enum Type { kFile, kDir, kSymlink } type = kFile;
  std::string name;  // relative path, no leading '/'
  std::string data;  // file content, or the symlink target
  int mode = 0644;
};
// A POSIX ustar archive of `entries` (names must fit ustar's 100+155 limits).
std::string MakeTar(const std::vector<TarEntry>& entries);
// The entries of a tar archive (regular files only; for reading OCI layouts back).
absl::StatusOr<std::map<std::string, std::string>> ReadTarFiles(const std::string& tar);

std::string Sha256Hex(const std::string& data);

// A root filesystem with busybox (from `busybox_path`) and its applet symlinks, /etc/passwd,
// /etc/group and the usual empty directories.
absl::StatusOr<std::vector<TarEntry>> BusyboxRootfs(const std::string& busybox_path);

struct OciImage {
  std::string layer, config, manifest;                       // blobs
  std::string layer_digest, config_digest, manifest_digest;  // "sha256:<hex>"
};
// Builds an image of `rootfs` with config Cmd `cmd` (and PATH set).
OciImage BuildImage(const std::vector<TarEntry>& rootfs, const std::vector<std::string>& cmd);
// An OCI archive of `image` named `ref` (e.g. "docker.io/library/busybox:latest"), as
// `ctr images import` reads it (io.containerd.image.name annotation).
std::string OciArchive(const OciImage& image, const std::string& ref);

// An image read from an archive, ready to push to a registry: any number of layers, blobs as
// they are in the archive (compressed or not).
struct ImageArchive {
  std::string ref;  // normalized (cri::NormalizeImageName): "docker.io/library/busybox:latest"
  std::string manifest, manifest_digest, manifest_media_type;
  std::string config, config_digest;
  struct Layer {
    std::string digest, data;
  };
  std::vector<Layer> layers;
};
// Reads an image archive as `ctr images import` accepts it:
//  - an OCI image layout (index.json + blobs/sha256/...: OciArchive's output, skopeo's
//    oci-archive, newer `docker save`), named by the io.containerd.image.name or
//    org.opencontainers.image.ref.name annotation; an index pointing at an image index picks its
//    linux/amd64 manifest (else the first);
//  - a Docker archive (`docker save`: manifest.json with Config, RepoTags and Layers), converted
//    to an OCI manifest over the same config and layer blobs, named by its first RepoTag.
// Errors name what is missing (no index.json nor manifest.json, no name, a missing blob).
absl::StatusOr<ImageArchive> ReadImageArchive(const std::string& archive);
// Pushes `image` to a plain-HTTP registry v2 at 127.0.0.1:`port` as repository `repo` with
// tag `tag` (blobs first, then the manifest). Idempotent.
absl::Status PushToRegistry(const ImageArchive& image, int port, const std::string& repo,
                            const std::string& tag);

}  // namespace korral::agent
