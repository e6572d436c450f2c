// Strata's own Status service over a real unix socket: snapshot counts from
// the engine and the diff service's counters reach the client.
#include "snapshotter/server/status_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "io/fs/fs_util.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/server/apply_slots.h"
#include "snapshotter/server/content_source.h"
#include "snapshotter/server/diff_service.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace spb = strata::services::status::v1;
namespace dpb = containerd::services::diff::v1;
namespace npb = containerd::services::namespaces::v1;

class StatusServiceTest : public ::testing::Test {
 protected:
  void Start(bool with_diff, bool sync = false) {
    auto e = Engine::Open({.root = dir_ / "root", .sync = sync});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    if (with_diff) {
      content_ = std::make_unique<ContentClient>(dir_ / "no-containerd.sock");
      diff_ = std::make_unique<DiffService>(*engine_, *content_, slots_);
    }
    status_ = std::make_unique<StatusService>(
        *engine_, diff_.get(), with_diff ? dir_ / "no-containerd.sock" : "");
    std::string addr = "unix:" + (dir_ / "s.sock");
    grpc::ServerBuilder b;
    b.AddListeningPort(addr, grpc::InsecureServerCredentials());
    if (diff_) b.RegisterService(diff_.get());
    b.RegisterService(status_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  spb::GetStatusResponse Get() {
    grpc::ClientContext ctx;
    spb::GetStatusResponse r;
    grpc::Status s =
        spb::Status::NewStub(channel_)->Get(&ctx, spb::GetStatusRequest(), &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  }

  TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ContentClient> content_;
  ApplySlots slots_{2};
  std::unique_ptr<DiffService> diff_;
  std::unique_ptr<StatusService> status_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(StatusServiceTest, ReportsDurabilityAndDamagedSnapshots) {
  {
    // A committed snapshot whose directory goes missing while stopped.
    auto e = Engine::Open({.root = dir_ / "root", .sync = true});
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->Prepare("a1", "", {}).ok());
    ASSERT_TRUE((*e)->Commit("lost", "a1", {}).ok());
    EXPECT_EQ((*e)->DataSyncs(), 1u);
  }
  ASSERT_TRUE(RemoveAll(dir_ / "root/snapshots/1").ok());
  Start(false, /*sync=*/true);
  ASSERT_TRUE(engine_->Prepare("a2", "", {}).ok());
  ASSERT_TRUE(engine_->Commit("c2", "a2", {}).ok());
  spb::GetStatusResponse r = Get();
  EXPECT_TRUE(r.durability().commit_sync());
  EXPECT_EQ(r.durability().data_syncs(), 1u);
  ASSERT_EQ(r.recovery().damaged_size(), 1);
  EXPECT_EQ(r.recovery().damaged(0), "lost");
}

TEST_F(StatusServiceTest, CountsSnapshotsByKind) {
  Start(false);
  ASSERT_TRUE(engine_->Prepare("a1", "", {}).ok());
  ASSERT_TRUE(engine_->Commit("c1", "a1", {}).ok());
  ASSERT_TRUE(engine_->Prepare("a2", "c1", {}).ok());
  ASSERT_TRUE(engine_->Commit("c2", "a2", {}).ok());
  ASSERT_TRUE(engine_->Prepare("a3", "c2", {}).ok());
  ASSERT_TRUE(engine_->View("v1", "c2", {}).ok());
  spb::GetStatusResponse r = Get();
  EXPECT_EQ(r.committed(), 2);
  EXPECT_EQ(r.active(), 1);
  EXPECT_EQ(r.views(), 1);
  EXPECT_EQ(r.root(), dir_ / "root");
  EXPECT_EQ(r.backend(), "overlay");
  EXPECT_EQ(r.pid(), getpid());
  EXPECT_GT(r.metadata_bytes(), 0);
  EXPECT_FALSE(r.diff().enabled());
  ASSERT_TRUE(engine_->Remove("v1").ok());
  EXPECT_EQ(Get().views(), 0);
}

TEST_F(StatusServiceTest, ReportsTheDiffServicesCounters) {
  Start(true);
  EXPECT_TRUE(Get().diff().enabled());
  EXPECT_EQ(Get().diff().declined(), 0u);
  // A foreign mount: declined (Unimplemented), and counted.
  grpc::ClientContext ctx;
  dpb::ApplyRequest req;
  req.mutable_diff()->set_media_type(
      "application/vnd.oci.image.layer.v1.tar+gzip");
  req.mutable_diff()->set_digest("sha256:" + std::string(64, 'a'));
  auto* m = req.add_mounts();
  m->set_type("bind");
  m->set_source(dir_.path());
  m->add_options("rw");
  dpb::ApplyResponse resp;
  EXPECT_EQ(dpb::Diff::NewStub(channel_)->Apply(&ctx, req, &resp).error_code(),
            grpc::UNIMPLEMENTED);
  spb::GetStatusResponse r = Get();
  EXPECT_EQ(r.diff().declined(), 1u);
  EXPECT_EQ(r.diff().applied(), 0u);
  EXPECT_EQ(r.diff().failed(), 0u);
  EXPECT_EQ(r.diff().containerd_address(), dir_ / "no-containerd.sock");
}

// containerd's content API is asked live: a missing socket reads as not
// reachable with gRPC's reason, a containerd that answers as reachable.
TEST_F(StatusServiceTest, SaysWhetherContainerdsContentApiAnswers) {
  Start(true);
  spb::DiffStats d = Get().diff();
  EXPECT_FALSE(d.content_reachable());
  EXPECT_NE(d.content_error().find("list containerd namespaces"),
            std::string::npos)
      << d.content_error();
}

class AnsweringNamespaces final : public npb::Namespaces::Service {
 public:
  grpc::Status List(grpc::ServerContext*, const npb::ListNamespacesRequest*,
                    npb::ListNamespacesResponse*) override {
    return grpc::Status::OK;
  }
};

TEST_F(StatusServiceTest, SaysContainerdsContentApiAnswersWhenItDoes) {
  AnsweringNamespaces containerd;
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + (dir_ / "no-containerd.sock"),
                     grpc::InsecureServerCredentials());
  b.RegisterService(&containerd);
  std::unique_ptr<grpc::Server> fake = b.BuildAndStart();
  ASSERT_NE(fake, nullptr);
  Start(true);
  spb::DiffStats d = Get().diff();
  EXPECT_TRUE(d.content_reachable()) << d.content_error();
  EXPECT_EQ(d.content_error(), "");
  fake->Shutdown();
}

}  // namespace
}  // namespace strata
