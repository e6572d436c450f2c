// rebase_replay: drives a running strata-snapshotter through containerd
// 2.2's parallel unpack sequence (core/unpack/unpacker.go with the "rebase"
// capability), for tests/e2e/differ.sh, since Debian's containerd 2.1 does
// not unpack in parallel:
//   1. Prepare every layer without a parent (labels as the unpacker sets);
//   2. Apply all layers at once through Strata's Diff service, with the
//      mounts Prepare returned; the blobs come from containerd's content
//      store (Strata reads them through containerd's Content API);
//   3. check each returned digest against the layer's diffID;
//   4. Commit them in order, each with parent = the previous chain ID;
//   5. View the top chain and print its mounts, one per line:
//      "<type> <source> <comma-joined options>".
//
//   rebase_replay <strata.sock> <namespace> <view-key>
//       (<media-type> <digest> <size> <diff-id> <chain-id>)...
//
// Exit status 0 if every step succeeded, 1 otherwise (the failing call, its
// gRPC code and message on stderr).
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace {

namespace spb = containerd::services::snapshots::v1;
namespace dpb = containerd::services::diff::v1;

struct Layer {
  std::string media_type, digest, diff_id, chain_id, key;
  int64_t size = 0;
  google::protobuf::RepeatedPtrField<containerd::types::Mount> mounts;
  grpc::Status applied;
  std::string got_diff_id;
};

bool Check(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return true;
  std::fprintf(stderr, "rebase_replay: %s: code %d: %s\n", what.c_str(),
               s.error_code(), s.error_message().c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 9 || (argc - 4) % 5 != 0) {
    std::fprintf(stderr,
                 "usage: rebase_replay <strata.sock> <namespace> <view-key> "
                 "(<media-type> <digest> <size> <diff-id> <chain-id>)...\n");
    return 2;
  }
  const std::string ns = argv[2], view_key = argv[3];
  auto channel = grpc::CreateChannel(std::string("unix:") + argv[1],
                                     grpc::InsecureChannelCredentials());
  auto snapshots = spb::Snapshots::NewStub(channel);
  auto diff = dpb::Diff::NewStub(channel);

  std::vector<Layer> layers;
  for (int i = 4; i < argc; i += 5) {
    Layer l;
    l.media_type = argv[i];
    l.digest = argv[i + 1];
    l.size = std::atoll(argv[i + 2]);
    l.diff_id = argv[i + 3];
    l.chain_id = argv[i + 4];
    l.key = ns + "/replay/extract-" + std::to_string(layers.size()) + " " +
            l.chain_id;
    layers.push_back(std::move(l));
  }

  // 1. Every layer prepared without a parent.
  for (size_t i = 0; i < layers.size(); ++i) {
    Layer& l = layers[i];
    grpc::ClientContext ctx;
    spb::PrepareSnapshotRequest req;
    req.set_snapshotter("strata");
    req.set_key(l.key);
    (*req.mutable_labels())["containerd.io/snapshot.ref"] = l.chain_id;
    (*req.mutable_labels())["containerd.io/snapshot/diff-id"] = l.diff_id;
    if (i > 0)
      (*req.mutable_labels())["containerd.io/snapshot/parent-chain-id"] =
          layers[i - 1].chain_id;
    spb::PrepareSnapshotResponse resp;
    if (!Check(snapshots->Prepare(&ctx, req, &resp), "prepare " + l.key))
      return 1;
    l.mounts = resp.mounts();
  }

  // 2. All layers applied at once.
  std::vector<std::thread> threads;
  for (Layer& l : layers) {
    threads.emplace_back([&diff, &l, &ns] {
      grpc::ClientContext ctx;
      ctx.AddMetadata("containerd-namespace", ns);
      dpb::ApplyRequest req;
      req.mutable_diff()->set_media_type(l.media_type);
      req.mutable_diff()->set_digest(l.digest);
      req.mutable_diff()->set_size(l.size);
      *req.mutable_mounts() = l.mounts;
      dpb::ApplyResponse resp;
      l.applied = diff->Apply(&ctx, req, &resp);
      l.got_diff_id = resp.applied().digest();
    });
  }
  for (std::thread& t : threads) t.join();

  // 3. Each digest is the layer's diffID.
  for (const Layer& l : layers) {
    if (!Check(l.applied, "apply " + l.digest)) return 1;
    if (l.got_diff_id != l.diff_id) {
      std::fprintf(stderr, "rebase_replay: apply %s: diff id %s, want %s\n",
                   l.digest.c_str(), l.got_diff_id.c_str(), l.diff_id.c_str());
      return 1;
    }
  }

  // 4. Committed in order, each rebased onto the previous layer.
  for (size_t i = 0; i < layers.size(); ++i) {
    grpc::ClientContext ctx;
    spb::CommitSnapshotRequest req;
    req.set_snapshotter("strata");
    req.set_key(layers[i].key);
    req.set_name(ns + "/replay/" + layers[i].chain_id);
    if (i > 0) req.set_parent(ns + "/replay/" + layers[i - 1].chain_id);
    google::protobuf::Empty resp;
    if (!Check(snapshots->Commit(&ctx, req, &resp), "commit " + layers[i].key))
      return 1;
  }

  // 5. A view of the top, for the caller to mount and compare.
  grpc::ClientContext ctx;
  spb::ViewSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(view_key);
  req.set_parent(ns + "/replay/" + layers.back().chain_id);
  spb::ViewSnapshotResponse resp;
  if (!Check(snapshots->View(&ctx, req, &resp), "view " + view_key)) return 1;
  for (const auto& m : resp.mounts()) {
    std::string opts;
    for (const auto& o : m.options()) opts += (opts.empty() ? "" : ",") + o;
    std::printf("%s %s %s\n", m.type().c_str(), m.source().c_str(),
                opts.c_str());
  }
  return 0;
}
