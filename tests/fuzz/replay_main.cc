// Runs a libFuzzer target's LLVMFuzzerTestOneInput over files and
// directories of inputs without libFuzzer, so CI replays the seeds and every
// past finding with any compiler (and under ASan/UBSan). Prints one line per
// run and exits non-zero on a read error; a target's own check aborts.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/fs/fs_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "replay: cannot stat %s\n", argv[i]);
      return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(argv[i]);
      continue;
    }
    auto names = strata::ListDir(argv[i]);
    if (!names.ok()) {
      std::fprintf(stderr, "replay: %s\n", names.status().ToString().c_str());
      return 2;
    }
    for (const std::string& n : *names) {
      if (n[0] != '.') files.push_back(std::string(argv[i]) + "/" + n);
    }
  }
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string data = ss.str();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }
  std::printf("replay: %zu inputs, no finding\n", files.size());
  return files.empty() ? 2 : 0;
}
