#include "korral/base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace korral::log {
namespace {

Level InitialLevel() {
  const char* env = std::getenv("KORRAL_LOG_LEVEL");
  if (env == nullptr) return Level::kInfo;
  if (std::strcmp(env, "debug") == 0) return Level::kDebug;
  if (std::strcmp(env, "warning") == 0) return Level::kWarning;
  if (std::strcmp(env, "error") == 0) return Level::kError;
  return Level::kInfo;
}

std::atomic<int> g_level{static_cast<int>(InitialLevel())};

}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void Write(Level level, std::string_view file, int line, std::string_view message) {
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  auto slash = file.rfind('/');
  if (slash != std::string_view::npos) file.remove_prefix(slash + 1);
  std::string out = fmt::format("{}{:02}{:02} {:02}:{:02}:{:02}.{:06} {}:{}] {}\n",
                                kLetters[static_cast<int>(level)], tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec, micros, file, line, message);
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace korral::log
