#include "korral/base/clock.h"

namespace korral {
namespace {
class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::now();
  }
};
}  // namespace

Clock& Clock::Real() {
  static RealClock clock;
  return clock;
}

}  // namespace korral
