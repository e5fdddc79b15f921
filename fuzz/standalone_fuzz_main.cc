// A driver for libFuzzer-style targets when the compiler has no libFuzzer (g++): runs every file
// of the given corpus directories, then `-runs=N` random and mutated inputs with a fixed seed, so
// `ctest` exercises each parser against hostile input in bounded time.
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
// The input being run, printed (hex) if it crashes, so a CI failure is reproducible.
const std::string* g_current = nullptr;

void DumpCurrentInput(int sig) {
  if (g_current != nullptr) {
    static const char kHex[] = "0123456789abcdef";
    const char* msg = "\nfuzz: crashing input (hex): ";
    (void)!write(2, msg, std::strlen(msg));
    for (unsigned char c : *g_current) {
      char b[2] = {kHex[c >> 4], kHex[c & 15]};
      (void)!write(2, b, 2);
    }
    (void)!write(2, "\n", 1);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void Run(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}
}  // namespace

int main(int argc, char** argv) {
  long runs = 10000;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "-runs=", 6) == 0) {
      runs = std::atol(argv[i] + 6);
      continue;
    }
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        corpus.push_back(ss.str());
      }
    }
  }
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, DumpCurrentInput);
  for (const auto& c : corpus) Run(c);
  std::mt19937_64 rng(0x6b6f7272616cULL);
  for (long r = 0; r < runs; ++r) {
    std::string input;
    if (!corpus.empty() && rng() % 4 != 0) {
      input = corpus[rng() % corpus.size()];
      int mutations = 1 + static_cast<int>(rng() % 8);
      for (int m = 0; m < mutations && !input.empty(); ++m) {
        size_t pos = rng() % input.size();
        switch (rng() % 4) {
          case 0:
            input[pos] = static_cast<char>(rng());
            break;
          case 1:
            input.erase(pos, 1 + rng() % 4);
            break;
          case 2:
            input.insert(pos, 1, static_cast<char>(rng()));
            break;
          case 3:
            input = input.substr(0, pos);
            break;
        }
      }
    } else {
      input.resize(rng() % 256);
      for (auto& ch : input) ch = static_cast<char>(rng());
    }
    Run(input);
  }
  std::printf("%zu corpus inputs and %ld generated inputs ran without a crash\n", corpus.size(),
              runs);
  return 0;
}
