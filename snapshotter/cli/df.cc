#include "snapshotter/cli/df.h"

#include <grpcpp/grpcpp.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "snapshotter/cli/cli_util.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

struct Row {
  pb::Info info;
  int64_t size = 0;
  int64_t inodes = 0;
  std::vector<std::string> children;
};

std::string Bytes(int64_t n, bool exact) {
  return exact ? std::to_string(n)
               : HumanBytes(static_cast<uint64_t>(std::max<int64_t>(n, 0)));
}

int Fail(const grpc::Status& s, const std::string& what) {
  std::fprintf(stderr, "strata df: %s: code %d: %s\n", what.c_str(),
               s.error_code(), s.error_message().c_str());
  return 1;
}

}  // namespace

int RunDf(pb::Snapshots::Stub& stub, const std::vector<std::string>& args) {
  std::string root;
  bool exact = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--root" && i + 1 < args.size()) {
      root = args[++i];
    } else if (args[i] == "--bytes") {
      exact = true;
    } else {
      std::fprintf(stderr,
                   "strata df: unknown argument \"%s\"\nusage: strata df "
                   "[--root DIR] [--bytes]\n",
                   args[i].c_str());
      return 2;
    }
  }

  std::map<std::string, Row> rows;
  {
    grpc::ClientContext ctx;
    pb::ListSnapshotsRequest req;
    req.set_snapshotter("strata");
    auto reader = stub.List(&ctx, req);
    pb::ListSnapshotsResponse resp;
    while (reader->Read(&resp)) {
      for (const auto& info : resp.info()) rows[info.name()].info = info;
    }
    grpc::Status s = reader->Finish();
    if (!s.ok()) return Fail(s, "list");
  }
  for (auto it = rows.begin(); it != rows.end();) {
    grpc::ClientContext ctx;
    pb::UsageRequest req;
    req.set_snapshotter("strata");
    req.set_key(it->first);
    pb::UsageResponse resp;
    grpc::Status s = stub.Usage(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {  // removed since List
      it = rows.erase(it);
      continue;
    }
    if (!s.ok()) return Fail(s, "usage of snapshot \"" + it->first + "\"");
    it->second.size = resp.size();
    it->second.inodes = resp.inodes();
    ++it;
  }
  std::vector<std::string> bases;
  for (auto& [name, row] : rows) {
    auto parent = rows.find(row.info.parent());
    if (row.info.parent().empty() || parent == rows.end()) {
      bases.push_back(name);
    } else {
      parent->second.children.push_back(name);
    }
  }

  std::printf("%-48s %-9s %5s %12s %12s %8s\n", "NAME", "KIND", "DEPTH",
              "EXCLUSIVE", "LOGICAL", "INODES");
  int64_t total_exclusive = 0, total_logical = 0, tips = 0;
  // Depth-first from each base: parents print before their children.
  std::function<void(const std::string&, int, int64_t)> walk =
      [&](const std::string& name, int depth, int64_t above) {
        const Row& row = rows.at(name);
        int64_t logical = above + row.size;
        std::string shown = std::string(2 * (depth - 1), ' ') + name;
        std::printf("%-48s %-9s %5d %12s %12s %8" PRId64 "\n", shown.c_str(),
                    std::string(WireKindName(row.info.kind())).c_str(), depth,
                    Bytes(row.size, exact).c_str(),
                    Bytes(logical, exact).c_str(), row.inodes);
        total_exclusive += row.size;
        if (row.children.empty()) {
          total_logical += logical;
          ++tips;
        }
        for (const std::string& child : row.children)
          walk(child, depth + 1, logical);
      };
  for (const std::string& base : bases) walk(base, 1, 0);
  std::printf("total: %zu snapshots, %" PRId64
              " chains: exclusive %s, logical %s\n",
              rows.size(), tips, Bytes(total_exclusive, exact).c_str(),
              Bytes(total_logical, exact).c_str());

  if (root.empty()) return 0;
  struct statvfs sv;
  if (statvfs(root.c_str(), &sv) != 0) {
    std::fprintf(stderr, "strata df: statfs %s: %s\n", root.c_str(),
                 std::strerror(errno));
    return 1;
  }
  int64_t frsize = static_cast<int64_t>(sv.f_frsize);
  int64_t size = static_cast<int64_t>(sv.f_blocks) * frsize;
  int64_t used = static_cast<int64_t>(sv.f_blocks - sv.f_bfree) * frsize;
  int64_t avail = static_cast<int64_t>(sv.f_bavail) * frsize;
  std::printf("filesystem %s: size %s, used %s, available %s\n", root.c_str(),
              Bytes(size, exact).c_str(), Bytes(used, exact).c_str(),
              Bytes(avail, exact).c_str());
  return 0;
}

}  // namespace strata
