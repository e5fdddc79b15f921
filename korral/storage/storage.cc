// korral/storage/storage.cc: helpers shared by every backend.
#include "korral/storage/storage.h"

namespace korral::storage {

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  // Increment the last byte that is not 0xff and drop everything after it.
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

}  // namespace korral::storage
