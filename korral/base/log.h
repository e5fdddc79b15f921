// korral/base/log.h: minimal leveled logging to stderr.
//
// Thread-safe; each call writes one line atomically. Never log secrets (tokens, keys, Secret data).
//
// Example:
//   KLOG(Info, "listening on {}:{}", host, port);
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace korral::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the minimum level that is written. Default: kInfo (KORRAL_LOG_LEVEL=debug lowers it).
void SetLevel(Level level);
bool Enabled(Level level);
void Write(Level level, std::string_view file, int line, std::string_view message);

}  // namespace korral::log

#define KLOG(severity, ...)                                                       \
  do {                                                                            \
    if (::korral::log::Enabled(::korral::log::Level::k##severity))                \
      ::korral::log::Write(::korral::log::Level::k##severity, __FILE__, __LINE__, \
                           ::fmt::format(__VA_ARGS__));                           \
  } while (0)
