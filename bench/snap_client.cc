// strata-snapclient: one Snapshots API call against any snapshotter socket
// (Strata's, or containerd's own through bench/peer), timed, for
// bench/clone.sh. The same client for both keeps the comparison fair.
//   strata-snapclient SOCK prepare KEY [PARENT] [--label K=V]...
//                                                -> "<secs> <writable dir>"
//   strata-snapclient SOCK commit NAME KEY       -> "<secs>"
//   strata-snapclient SOCK remove KEY            -> "<secs>"
//   strata-snapclient SOCK usage KEY             -> "<secs> <bytes> <inodes>"
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace pb = containerd::services::snapshots::v1;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: strata-snapclient SOCK prepare KEY [PARENT] | commit "
                 "NAME KEY | remove KEY | usage KEY\n");
    return 2;
  }
  std::string op = argv[2];
  auto stub = pb::Snapshots::NewStub(grpc::CreateChannel(
      std::string("unix:") + argv[1], grpc::InsecureChannelCredentials()));
  // A first call opens the connection, so the timed call is the RPC alone.
  grpc::ClientContext warm_ctx;
  pb::StatSnapshotRequest warm;
  warm.set_key("strata-snapclient-warmup");
  pb::StatSnapshotResponse warm_resp;
  stub->Stat(&warm_ctx, warm,
             &warm_resp);  // NotFound expected; opens the channel
  grpc::ClientContext ctx;
  grpc::Status s;
  std::string out;
  auto t0 = std::chrono::steady_clock::now();
  if (op == "prepare") {
    pb::PrepareSnapshotRequest req;
    req.set_snapshotter("strata");
    req.set_key(argv[3]);
    for (int i = 4; i < argc; ++i) {
      std::string a = argv[i];
      size_t eq = a.find('=');
      if (a == "--label" && i + 1 < argc &&
          std::string(argv[i + 1]).find('=') != std::string::npos) {
        std::string kv = argv[++i];
        (*req.mutable_labels())[kv.substr(0, kv.find('='))] =
            kv.substr(kv.find('=') + 1);
      } else if (i == 4 && eq == std::string::npos) {
        req.set_parent(a);
      } else {
        std::fprintf(stderr, "strata-snapclient: unexpected %s\n", argv[i]);
        return 2;
      }
    }
    pb::PrepareSnapshotResponse resp;
    s = stub->Prepare(&ctx, req, &resp);
    if (s.ok() && resp.mounts_size() == 1) {
      const auto& m = resp.mounts(0);
      if (m.type() == "bind") out = m.source();
      for (const std::string& o : m.options()) {
        if (o.rfind("upperdir=", 0) == 0) out = o.substr(9);
      }
    }
  } else if (op == "commit" && argc > 4) {
    pb::CommitSnapshotRequest req;
    req.set_snapshotter("strata");
    req.set_name(argv[3]);
    req.set_key(argv[4]);
    google::protobuf::Empty resp;
    s = stub->Commit(&ctx, req, &resp);
  } else if (op == "remove") {
    pb::RemoveSnapshotRequest req;
    req.set_snapshotter("strata");
    req.set_key(argv[3]);
    google::protobuf::Empty resp;
    s = stub->Remove(&ctx, req, &resp);
  } else if (op == "usage") {
    pb::UsageRequest req;
    req.set_snapshotter("strata");
    req.set_key(argv[3]);
    pb::UsageResponse resp;
    s = stub->Usage(&ctx, req, &resp);
    out = std::to_string(resp.size()) + " " + std::to_string(resp.inodes());
  } else {
    std::fprintf(stderr, "strata-snapclient: unknown operation %s\n",
                 op.c_str());
    return 2;
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!s.ok()) {
    std::fprintf(stderr, "strata-snapclient: %s %s: code %d: %s\n", op.c_str(),
                 argv[3], s.error_code(), s.error_message().c_str());
    return 1;
  }
  std::printf("%.4f%s%s\n", secs, out.empty() ? "" : " ", out.c_str());
  return 0;
}
