#include "korral/cri/cri.h"

#include <string>

namespace korral::cri {

namespace {
thread_local int64_t thread_call_ns = 0;
}  // namespace

std::chrono::nanoseconds ThreadCallTime() { return std::chrono::nanoseconds(thread_call_ns); }
void AddThreadCallTime(std::chrono::nanoseconds d) { thread_call_ns += d.count(); }

std::string NormalizeImageName(const std::string& image) {
  std::string name = image;
  std::string domain = "docker.io";
  std::string rest = name;
  auto slash = name.find('/');
  if (slash != std::string::npos) {
    std::string first = name.substr(0, slash);
    if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
        first == "localhost") {
      domain = first;
      rest = name.substr(slash + 1);
    }
  }
  if (domain == "docker.io" && rest.find('/') == std::string::npos) rest = "library/" + rest;
  // Tag: a ':' after the last '/', unless pinned by digest.
  bool has_digest = rest.find('@') != std::string::npos;
  auto last_slash = rest.rfind('/');
  auto colon = rest.find(':', last_slash == std::string::npos ? 0 : last_slash);
  if (!has_digest && colon == std::string::npos) rest += ":latest";
  return domain + "/" + rest;
}

std::string ImageTag(const std::string& image) {
  if (image.find('@') != std::string::npos) return "";
  auto last_slash = image.rfind('/');
  auto colon = image.find(':', last_slash == std::string::npos ? 0 : last_slash);
  if (colon == std::string::npos) return "latest";
  return image.substr(colon + 1);
}

}  // namespace korral::cri
