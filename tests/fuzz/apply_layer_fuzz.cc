// libFuzzer target: the whole apply pipeline (ApplyLayer: decompression by
// magic, digest, tar, extraction with whiteouts) into a scratch root, over
// arbitrary bytes. After every input the decoy beside the root (a stand-in
// for host files, which seeds aim symlinks at: make_apply_seeds.py) must be
// unchanged in every way, and nothing may have appeared beside the root.
// The same file, linked with replay_main.cc, replays seeds in ctest.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "io/decompress/source.h"
#include "io/extract/apply_layer.h"
#include "io/fs/fs_util.h"
#include "tests/testutil/tree_state.h"

namespace {

// Seeds aim at this path; it is recreated at start.
constexpr const char* kScratch = "/tmp/strata-apply-fuzz";

struct Scratch {
  std::string decoy = std::string(kScratch) + "/decoy";
  std::string root = std::string(kScratch) + "/root";
  strata::TreeState before;
  Scratch() {
    if (!strata::RemoveAll(kScratch).ok() || mkdir(kScratch, 0755) != 0) {
      std::fprintf(stderr, "apply_layer_fuzz: cannot make %s\n", kScratch);
      std::abort();
    }
    strata::MakeDecoy(decoy);
    before = strata::TreeState::Capture(decoy);
  }
};

std::set<std::string> Names(const char* dir) {
  auto names = strata::ListDir(dir);
  if (!names.ok()) return {};
  return std::set<std::string>(names->begin(), names->end());
}

void Fail(const std::string& why) {
  std::fprintf(stderr, "apply_layer_fuzz: %s\n", why.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Scratch* scratch = new Scratch();
  strata::Status removed = strata::RemoveAll(scratch->root);
  if (!removed.ok()) Fail("cannot clear the root: " + removed.ToString());
  if (mkdir(scratch->root.c_str(), 0755) != 0) Fail("cannot make the root");
  int fd = open(scratch->root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) Fail("cannot open the root");
  strata::ApplyOptions opts;
  // The last byte picks the whiteout form: it is tar padding in most seeds.
  opts.whiteouts = size > 0 && (data[size - 1] & 1)
                       ? strata::WhiteoutMode::kDelete
                       : strata::WhiteoutMode::kOverlay;
  opts.sink = strata::SinkKind::kSync;  // deterministic, one thread
  opts.decompress.max_output_bytes = 8 << 20;
  opts.extract.max_tracked_bytes = 1 << 20;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto applied = strata::ApplyLayer(
      std::make_unique<strata::MemorySource>(input), fd, opts);
  (void)applied;  // errors are fine; escapes are not
  close(fd);
  strata::TreeState after = strata::TreeState::Capture(scratch->decoy);
  if (!(after == scratch->before))
    Fail("the decoy changed:\n" + after.DiffFrom(scratch->before));
  std::set<std::string> names = Names(kScratch);
  if (names != std::set<std::string>{"decoy", "root"}) {
    std::string got;
    for (const std::string& n : names) got += n + " ";
    Fail("something appeared beside the root: " + got);
  }
  return 0;
}
