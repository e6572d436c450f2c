// The gRPC edge, through a real server on a unix socket and containerd's wire
// format: each bad input gets the code containerd's errdefs expects.
#include "snapshotter/server/snapshots_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "snapshotter/engine/engine.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = Engine::Open({.root = dir_ / "root", .sync = false});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    service_ = std::make_unique<SnapshotsService>(*engine_);
    std::string addr = "unix:" + (dir_ / "s.sock");
    grpc::ServerBuilder b;
    b.AddListeningPort(addr, grpc::InsecureServerCredentials());
    service_->AddTo(b);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    service_->StartReads();
    stub_ = pb::Snapshots::NewStub(
        grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    service_->StopReads();
  }

  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       std::map<std::string, std::string> labels = {}) {
    grpc::ClientContext ctx;
    pb::PrepareSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    for (auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    pb::PrepareSnapshotResponse resp;
    return stub_->Prepare(&ctx, req, &resp);
  }
  grpc::Status Commit(const std::string& name, const std::string& key,
                      std::map<std::string, std::string> labels = {}) {
    grpc::ClientContext ctx;
    pb::CommitSnapshotRequest req;
    req.set_key(key);
    req.set_name(name);
    for (auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    google::protobuf::Empty resp;
    return stub_->Commit(&ctx, req, &resp);
  }
  grpc::Status Stat(const std::string& key, pb::Info* info = nullptr) {
    grpc::ClientContext ctx;
    pb::StatSnapshotRequest req;
    req.set_key(key);
    pb::StatSnapshotResponse resp;
    auto s = stub_->Stat(&ctx, req, &resp);
    if (info) *info = resp.info();
    return s;
  }
  std::vector<pb::ListSnapshotsResponse> List(std::vector<std::string> filters,
                                              grpc::Status* status) {
    grpc::ClientContext ctx;
    pb::ListSnapshotsRequest req;
    for (auto& f : filters) req.add_filters(f);
    auto reader = stub_->List(&ctx, req);
    std::vector<pb::ListSnapshotsResponse> out;
    pb::ListSnapshotsResponse r;
    while (reader->Read(&r)) out.push_back(r);
    *status = reader->Finish();
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<SnapshotsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::Snapshots::Stub> stub_;
};

TEST_F(ServiceTest, RoundTripOverTheWire) {
  ASSERT_TRUE(Prepare("default/1/extract", "",
                      {{"containerd.io/snapshot.ref", "sha256:a"}})
                  .ok());
  ASSERT_TRUE(
      Commit("default/1/sha256:a", "default/1/extract", {{"c", "1"}}).ok());
  pb::Info info;
  ASSERT_TRUE(Stat("default/1/sha256:a", &info).ok());
  EXPECT_EQ(info.name(), "default/1/sha256:a");
  EXPECT_EQ(info.kind(), pb::COMMITTED);
  EXPECT_EQ(info.labels().at("c"), "1");
  EXPECT_EQ(info.labels().count("containerd.io/snapshot.ref"), 0u);
  EXPECT_GT(info.created_at().seconds(), 1600000000);

  grpc::ClientContext ctx;
  pb::ViewSnapshotRequest vreq;
  vreq.set_key("v");
  vreq.set_parent("default/1/sha256:a");
  pb::ViewSnapshotResponse vresp;
  ASSERT_TRUE(stub_->View(&ctx, vreq, &vresp).ok());
  ASSERT_EQ(vresp.mounts_size(), 1);
  EXPECT_EQ(vresp.mounts(0).type(), "bind");
  EXPECT_EQ(vresp.mounts(0).options(0), "ro");

  grpc::ClientContext uctx;
  pb::UsageRequest ureq;
  ureq.set_key("default/1/sha256:a");
  pb::UsageResponse uresp;
  ASSERT_TRUE(stub_->Usage(&uctx, ureq, &uresp).ok());
  EXPECT_GE(uresp.inodes(), 1);

  grpc::ClientContext upctx;
  pb::UpdateSnapshotRequest upreq;
  upreq.mutable_info()->set_name("v");
  (*upreq.mutable_info()->mutable_labels())["containerd.io/gc.root"] = "now";
  upreq.mutable_update_mask()->add_paths("labels.containerd.io/gc.root");
  pb::UpdateSnapshotResponse upresp;
  ASSERT_TRUE(stub_->Update(&upctx, upreq, &upresp).ok());
  EXPECT_EQ(upresp.info().labels().at("containerd.io/gc.root"), "now");
  EXPECT_EQ(upresp.info().kind(), pb::VIEW);
  EXPECT_EQ(upresp.info().parent(), "default/1/sha256:a");

  grpc::ClientContext rctx;
  pb::RemoveSnapshotRequest rreq;
  rreq.set_key("v");
  google::protobuf::Empty empty;
  ASSERT_TRUE(stub_->Remove(&rctx, rreq, &empty).ok());
  grpc::ClientContext cctx;
  ASSERT_TRUE(stub_->Cleanup(&cctx, pb::CleanupRequest(), &empty).ok());
}

TEST_F(ServiceTest, ListStreamsInBatchesOf100) {
  for (int i = 0; i < 250; ++i)
    ASSERT_TRUE(Prepare("k" + std::to_string(i), "").ok());
  grpc::Status status;
  auto batches = List({}, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].info_size(), 100);
  EXPECT_EQ(batches[2].info_size(), 50);
  auto one = List({"name==k7"}, &status);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].info(0).name(), "k7");
  List({"name==\"x"}, &status);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, ErrorCodesOnTheWire) {
  ASSERT_TRUE(Prepare("a", "").ok());
  EXPECT_EQ(Prepare("a", "").error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(Prepare("", "").error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(Prepare(std::string(10 * 1024, 'k'), "").error_code(), grpc::OK)
      << "10 KiB keys work, as in containerd's bolt store";
  EXPECT_EQ(Prepare(std::string(70 * 1024, 'k'), "").error_code(),
            grpc::INVALID_ARGUMENT);
  EXPECT_EQ(Prepare(std::string("nul\0key", 7), "").error_code(), grpc::OK);
  EXPECT_EQ(Stat("nul").error_code(), grpc::NOT_FOUND)
      << "NUL truncated the key";
  EXPECT_EQ(Prepare("b", "missing").error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(Prepare("b", "a").error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(Prepare("b", "", {{"k", std::string(4096, 'v')}}).error_code(),
            grpc::INVALID_ARGUMENT);
  EXPECT_EQ(Commit("c", "missing").error_code(), grpc::NOT_FOUND);
  ASSERT_TRUE(Commit("c", "a").ok());
  EXPECT_EQ(Commit("c", "c").error_code(), grpc::ALREADY_EXISTS);
  ASSERT_TRUE(Prepare("d", "c").ok());
  grpc::ClientContext ctx;
  pb::RemoveSnapshotRequest rreq;
  rreq.set_key("c");
  google::protobuf::Empty empty;
  auto rm = stub_->Remove(&ctx, rreq, &empty);
  EXPECT_EQ(rm.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_NE(rm.error_message().find("\"c\""), std::string::npos)
      << rm.error_message();
  grpc::ClientContext mctx;
  pb::MountsRequest mreq;
  mreq.set_key("c");
  pb::MountsResponse mresp;
  EXPECT_EQ(stub_->Mounts(&mctx, mreq, &mresp).error_code(),
            grpc::FAILED_PRECONDITION);
  grpc::ClientContext uctx;
  pb::UpdateSnapshotRequest ureq;
  ureq.mutable_info()->set_name("c");
  ureq.mutable_update_mask()->add_paths("kind");
  pb::UpdateSnapshotResponse uresp;
  EXPECT_EQ(stub_->Update(&uctx, ureq, &uresp).error_code(),
            grpc::INVALID_ARGUMENT);
}

// Usage of an active snapshot is walked inline up to kInlineWalkInodes inodes
// and on a walker thread past them; both answer what a full walk counts, and
// Stat keeps answering while walks run.
TEST_F(ServiceTest, UsageOfAnActiveSnapshotIsTheWalksInlineAndOnAWalker) {
  grpc::ClientContext pctx;
  pb::PrepareSnapshotRequest preq;
  preq.set_key("active");
  pb::PrepareSnapshotResponse presp;
  ASSERT_TRUE(stub_->Prepare(&pctx, preq, &presp).ok());
  ASSERT_EQ(presp.mounts_size(), 1);
  const std::string fs = presp.mounts(0).source();
  auto write_files = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      std::string path = fs + "/f" + std::to_string(i);
      FILE* f = std::fopen(path.c_str(), "w");
      ASSERT_NE(f, nullptr) << path;
      std::fputs("data", f);
      std::fclose(f);
    }
  };
  auto usage = [&](pb::UsageResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    pb::UsageRequest req;
    req.set_key("active");
    return stub_->Usage(&ctx, req, resp);
  };

  write_files(0, 3);
  pb::UsageResponse small;
  ASSERT_TRUE(usage(&small).ok());
  EXPECT_EQ(small.inodes(), 4) << "the directory and 3 files, walked inline";

  const int many = static_cast<int>(SnapshotsService::kInlineWalkInodes) + 100;
  write_files(3, many);
  auto walked = engine_->GetUsage("active");
  ASSERT_TRUE(walked.ok()) << walked.status().ToString();
  ASSERT_EQ(walked->inodes, many + 1);
  EXPECT_EQ(engine_->GetUsage("active", 10).status().code(),
            Code::kResourceExhausted)
      << "a bounded walk stops past its limit";

  std::vector<std::thread> clients;
  std::atomic<int> right{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      pb::UsageResponse big;
      grpc::Status s = usage(&big);
      if (s.ok() && big.inodes() == walked->inodes &&
          big.size() == walked->size) {
        right++;
      } else {
        ADD_FAILURE() << s.error_message() << " inodes " << big.inodes();
      }
    });
  }
  EXPECT_TRUE(Stat("active").ok()) << "Stat answers while walks run";
  for (auto& c : clients) c.join();
  EXPECT_EQ(right.load(), 8) << "every walked Usage matches a full walk";
}

TEST_F(ServiceTest, CommitWithParentRebasesOverTheWire) {
  ASSERT_TRUE(Prepare("base-key", "").ok());
  ASSERT_TRUE(Commit("base", "base-key").ok());
  ASSERT_TRUE(Prepare("layer-key", "").ok());
  auto commit = [&](const std::string& name, const std::string& parent) {
    grpc::ClientContext ctx;
    pb::CommitSnapshotRequest req;
    req.set_key("layer-key");
    req.set_name(name);
    req.set_parent(parent);  // field 5, containerd 2.x rebase
    google::protobuf::Empty resp;
    return stub_->Commit(&ctx, req, &resp);
  };
  grpc::Status missing = commit("layer", "no-such-parent");
  EXPECT_EQ(missing.error_code(), grpc::NOT_FOUND);
  EXPECT_NE(missing.error_message().find("\"layer-key\""), std::string::npos)
      << missing.error_message();
  EXPECT_TRUE(Stat("layer-key").ok())
      << "a refused rebase leaves the active snapshot";
  ASSERT_TRUE(commit("layer", "base").ok());
  pb::Info info;
  ASSERT_TRUE(Stat("layer", &info).ok());
  EXPECT_EQ(info.parent(), "base");
  EXPECT_EQ(info.kind(), pb::COMMITTED);
}

}  // namespace
}  // namespace strata
