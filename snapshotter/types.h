// The snapshotter's vocabulary, shared by meta/, backend/, engine/ and
// server/: kinds, labels, infos, usage and mounts, in containerd's words.
//
// Thread-safety: plain values.
#ifndef STRATA_SNAPSHOTTER_TYPES_H_
#define STRATA_SNAPSHOTTER_TYPES_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/fs/mount.h"  // Mount

namespace strata {

// Values equal containerd's snapshots.v1 Kind enum.
enum class Kind : uint8_t {
  kUnknown = 0,
  kView = 1,
  kActive = 2,
  kCommitted = 3
};

// "active", "view", "committed": the words containerd's filters use.
std::string_view KindName(Kind kind);

using Labels = std::map<std::string, std::string>;

struct Info {
  std::string name;    // the client's key
  std::string parent;  // the parent's key, empty for none
  Kind kind = Kind::kUnknown;
  int64_t created_ns = 0;  // Unix time in nanoseconds
  int64_t updated_ns = 0;
  Labels labels;
};

struct Usage {
  int64_t size = 0;  // bytes
  int64_t inodes = 0;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_TYPES_H_
