// Image garbage collection (upstream pkg/kubelet/images/image_gc_manager.go): every period the
// kubelet records when it first saw each image and when a container last used it; when the
// image filesystem's usage reaches high_threshold_percent it removes unused images (no container
// of any state uses them, not pinned, at least minimum_age since first seen), least recently
// used first, through the CRI until usage is back at low_threshold_percent.
#include <sys/statvfs.h>

#include <algorithm>
#include <set>

#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {

void Kubelet::Impl::ImageGcTick() {
  const ImageGcConfig& gc = cfg.image_gc;
  if (gc.high_threshold_percent >= 100) return;
  std::optional<std::pair<int64_t, int64_t>> fs;
  if (cfg.image_fs_stats) {
    fs = cfg.image_fs_stats();
  } else {
    auto info = rt.ImageFsInfo();
    if (info.ok() && info->image_filesystems_size() > 0) {
      std::string mp = info->image_filesystems(0).fs_id().mountpoint();
      struct statvfs sv {};
      if (!mp.empty() && statvfs(mp.c_str(), &sv) == 0) {
        fs = std::make_pair(static_cast<int64_t>(sv.f_blocks) * static_cast<int64_t>(sv.f_frsize),
                            static_cast<int64_t>(sv.f_bavail) * static_cast<int64_t>(sv.f_frsize));
      }
    }
  }
  // Records are kept up to date even below the threshold (last used times).
  if (!fs || fs->first <= 0) {
    (void)GarbageCollectImages(0);
    return;
  }
  auto [capacity, available] = *fs;
  int64_t usage_percent = 100 - available * 100 / capacity;
  if (usage_percent < gc.high_threshold_percent) {
    (void)GarbageCollectImages(0);
    return;
  }
  int64_t to_free = capacity * (100 - gc.low_threshold_percent) / 100 - available;
  KLOG(Info, "kubelet: image filesystem usage {}% is over the high threshold {}%: freeing {} bytes",
       usage_percent, gc.high_threshold_percent, to_free);
  int64_t freed = GarbageCollectImages(to_free);
  if (freed < to_free) {
    KLOG(Warning,
         "kubelet: failed to garbage collect required amount of images. Attempted to free {} "
         "bytes, but only found {} bytes eligible to free.",
         to_free, freed);
  }
}

int64_t Kubelet::Impl::GarbageCollectImages(int64_t bytes) {
  auto images = rt.ListImages(v1::ImageFilter());
  auto containers = rt.ListContainers(v1::ContainerFilter());
  if (!images.ok() || !containers.ok()) return 0;
  auto now = clock.SteadyNow();
  // In use: the image of every container the runtime has, running or not.
  std::set<std::string> in_use;
  for (const auto& c : *containers) {
    in_use.insert(c.image_ref());
    in_use.insert(c.image().image());
  }
  std::vector<std::pair<std::string, ImageRecord>> candidates;
  {
    std::lock_guard l(mu);
    std::set<std::string> present;
    for (const auto& img : *images) {
      present.insert(img.id());
      auto [it, inserted] = image_records.try_emplace(img.id());
      if (inserted) it->second.first_detected = now;
      it->second.size = static_cast<int64_t>(img.size());
      bool used = in_use.count(img.id()) > 0;
      for (const auto& t : img.repo_tags()) used |= in_use.count(t) > 0;
      for (const auto& d : img.repo_digests()) used |= in_use.count(d) > 0;
      if (used) {
        it->second.last_used = now;
        continue;
      }
      bool pinned = img.pinned();
      for (const auto& p : cfg.pinned_images) {
        for (const auto& t : img.repo_tags()) pinned |= t == p;
      }
      if (pinned) continue;
      if (now - it->second.first_detected < cfg.image_gc.minimum_age) continue;
      candidates.emplace_back(img.id(), it->second);
    }
    for (auto it = image_records.begin(); it != image_records.end();) {
      it = present.count(it->first) ? std::next(it) : image_records.erase(it);
    }
  }
  if (bytes == 0) return 0;
  // Least recently used first, then first detected.
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if (a.second.last_used != b.second.last_used) return a.second.last_used < b.second.last_used;
    return a.second.first_detected < b.second.first_detected;
  });
  int64_t freed = 0;
  for (const auto& [id, rec] : candidates) {
    if (bytes > 0 && freed >= bytes) break;
    v1::ImageSpec spec;
    spec.set_image(id);
    absl::Status s = rt.RemoveImage(spec);
    if (!s.ok()) {
      KLOG(Warning, "kubelet: image GC: remove {}: {}", id, StatusMessage(s));
      continue;
    }
    KLOG(Info, "kubelet: image GC: removed image {} ({} bytes)", id, rec.size);
    freed += rec.size;
    std::lock_guard l(mu);
    image_records.erase(id);
  }
  return freed;
}

}  // namespace korral::kubelet
