// The diff service end to end in one process: a fake containerd (Content and
// Namespaces on a unix socket, serving blobs from memory) and the real
// DiffService over a real engine, applying real gzip layers into snapshots.
#include "snapshotter/server/diff_service.h"

#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "io/base/sha256.h"
#include "io/base/source.h"
#include "io/decompress/source.h"
#include "io/decompress/test_util.h"
#include "io/tar/tar_reader.h"
#include "io/tar/tar_test_util.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/server/apply_slots.h"
#include "snapshotter/server/content_source.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

namespace dpb = containerd::services::diff::v1;
namespace cpb = containerd::services::content::v1;
namespace npb = containerd::services::namespaces::v1;

constexpr const char* kGzipLayer =
    "application/vnd.oci.image.layer.v1.tar+gzip";

std::string NamespaceOf(const grpc::ServerContext& ctx) {
  auto it = ctx.client_metadata().find(kNamespaceHeader);
  return it == ctx.client_metadata().end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

// containerd's content store, in memory: namespace -> digest -> bytes. Like
// containerd, a call without a namespace fails.
class FakeContainerd final : public cpb::Content::Service,
                             public npb::Namespaces::Service {
 public:
  void Put(const std::string& ns, const std::string& digest, std::string blob) {
    std::lock_guard<std::mutex> lock(mu_);
    store_[ns][digest] = std::move(blob);
  }
  std::string last_read_ns() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_read_ns_;
  }

  grpc::Status Info(grpc::ServerContext* ctx, const cpb::InfoRequest* req,
                    cpb::InfoResponse* resp) override {
    std::string blob;
    if (grpc::Status s = Find(*ctx, req->digest(), &blob); !s.ok()) return s;
    resp->mutable_info()->set_digest(req->digest());
    resp->mutable_info()->set_size(static_cast<int64_t>(blob.size()));
    return grpc::Status::OK;
  }
  grpc::Status Read(grpc::ServerContext* ctx,
                    const cpb::ReadContentRequest* req,
                    grpc::ServerWriter<cpb::ReadContentResponse>* w) override {
    std::string blob;
    if (grpc::Status s = Find(*ctx, req->digest(), &blob); !s.ok()) return s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_read_ns_ = NamespaceOf(*ctx);
    }
    constexpr size_t kChunk =
        1 << 20;  // containerd's content service sends 1 MiB
    for (size_t off = static_cast<size_t>(req->offset()); off < blob.size();
         off += kChunk) {
      cpb::ReadContentResponse r;
      r.set_offset(static_cast<int64_t>(off));
      r.set_data(blob.substr(off, kChunk));
      if (!w->Write(r)) return grpc::Status(grpc::CANCELLED, "gone");
    }
    return grpc::Status::OK;
  }
  // Write as containerd's content service does it: one ingest per stream,
  // one answer per request, COMMIT checks size and digest; a blob already
  // stored commits as ALREADY_EXISTS.
  grpc::Status Write(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<cpb::WriteContentResponse,
                               cpb::WriteContentRequest>* rw) override {
    std::string ns = NamespaceOf(*ctx);
    if (ns.empty())
      return grpc::Status(grpc::FAILED_PRECONDITION, "namespace is required");
    cpb::WriteContentRequest req;
    std::string ref;
    while (rw->Read(&req)) {
      if (ref.empty()) ref = req.ref();
      if (req.ref() != ref)
        return grpc::Status(grpc::INVALID_ARGUMENT, "ref changed");
      std::lock_guard<std::mutex> lock(mu_);
      std::string& data = ingests_[ns + "/" + ref];
      if (req.action() != cpb::STAT) {
        if (req.offset() == 0) data.clear();
        if (req.offset() != 0 &&
            req.offset() != static_cast<int64_t>(data.size())) {
          return grpc::Status(grpc::OUT_OF_RANGE, "bad offset");
        }
        data += req.data();
      }
      cpb::WriteContentResponse resp;
      resp.set_action(req.action());
      resp.set_offset(static_cast<int64_t>(data.size()));
      if (req.action() == cpb::COMMIT) {
        if (req.total() != static_cast<int64_t>(data.size()) ||
            req.expected() != Sha256::Of(data)) {
          return grpc::Status(grpc::FAILED_PRECONDITION, "size or digest");
        }
        commits_.push_back({ns, ref, req.expected()});
        std::string blob = std::move(data);
        ingests_.erase(ns + "/" + ref);
        if (store_[ns].count(req.expected()))
          return grpc::Status(grpc::ALREADY_EXISTS, req.expected() + " exists");
        store_[ns][req.expected()] = std::move(blob);
        labels_[req.expected()] = {req.labels().begin(), req.labels().end()};
        resp.set_digest(req.expected());
      }
      if (!rw->Write(resp)) return grpc::Status(grpc::CANCELLED, "gone");
    }
    return grpc::Status::OK;
  }
  grpc::Status Update(grpc::ServerContext*, const cpb::UpdateRequest* req,
                      cpb::UpdateResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& path : req->update_mask().paths()) {
      std::string key = path.substr(std::string("labels.").size());
      labels_[req->info().digest()][key] = req->info().labels().at(key);
    }
    return grpc::Status::OK;
  }
  grpc::Status Abort(grpc::ServerContext* ctx, const cpb::AbortRequest* req,
                     google::protobuf::Empty*) override {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_.push_back(req->ref());
    ingests_.erase(NamespaceOf(*ctx) + "/" + req->ref());
    return grpc::Status::OK;
  }
  struct Commit {
    std::string ns, ref, digest;
  };
  std::vector<Commit> commits() {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }
  std::map<std::string, std::string> labels(const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    return labels_[digest];
  }
  std::string blob(const std::string& ns, const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    return store_[ns][digest];
  }
  void DropLabels(const std::string& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    labels_[digest].clear();
  }

  grpc::Status List(grpc::ServerContext*, const npb::ListNamespacesRequest*,
                    npb::ListNamespacesResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [ns, blobs] : store_) resp->add_namespaces()->set_name(ns);
    return grpc::Status::OK;
  }

 private:
  grpc::Status Find(const grpc::ServerContext& ctx, const std::string& digest,
                    std::string* blob) {
    std::string ns = NamespaceOf(ctx);
    if (ns.empty())
      return grpc::Status(grpc::FAILED_PRECONDITION, "namespace is required");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = store_[ns].find(digest);
    if (it == store_[ns].end())
      return grpc::Status(grpc::NOT_FOUND, digest + ": not found");
    *blob = it->second;
    return grpc::Status::OK;
  }

  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> store_;
  std::string last_read_ns_;
  std::map<std::string, std::string> ingests_;  // ns/ref -> bytes
  std::vector<Commit> commits_;
  std::map<std::string, std::map<std::string, std::string>> labels_;
  std::vector<std::string> aborted_;
};

struct Layer {
  std::string tar, blob, digest, diff_id;
};

Layer GzipLayer(std::vector<std::pair<HeaderSpec, std::string>> entries) {
  Layer l;
  for (auto& [h, data] : entries) {
    h.size = h.type == '0' ? static_cast<int64_t>(data.size()) : 0;
    l.tar += MakeEntry(h, data);
  }
  l.tar += EndOfArchive();
  l.blob = GzipMember(l.tar);
  l.digest = Sha256::Of(l.blob);
  l.diff_id = Sha256::Of(l.tar);
  return l;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class DiffServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = Engine::Open({.root = dir_ / "root", .sync = false});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);

    grpc::ServerBuilder cb;
    cb.AddListeningPort("unix:" + (dir_ / "containerd.sock"),
                        grpc::InsecureServerCredentials());
    cb.RegisterService(static_cast<cpb::Content::Service*>(&containerd_));
    cb.RegisterService(static_cast<npb::Namespaces::Service*>(&containerd_));
    containerd_server_ = cb.BuildAndStart();
    ASSERT_NE(containerd_server_, nullptr);

    content_ = std::make_unique<ContentClient>(dir_ / "containerd.sock");
    service_ = std::make_unique<DiffService>(*engine_, *content_, slots_);
    std::string addr = "unix:" + (dir_ / "strata.sock");
    grpc::ServerBuilder b;
    b.AddListeningPort(addr, grpc::InsecureServerCredentials());
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = dpb::Diff::NewStub(
        grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    if (containerd_server_) containerd_server_->Shutdown();
  }

  // Prepares `key` on `parent` and returns its single mount.
  containerd::types::Mount Prepare(const std::string& key,
                                   const std::string& parent) {
    auto r = engine_->Prepare(key, parent, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    containerd::types::Mount m;
    if (!r.ok() || r->size() != 1) return m;
    m.set_type((*r)[0].type);
    m.set_source((*r)[0].source);
    for (const auto& o : (*r)[0].options) m.add_options(o);
    return m;
  }

  grpc::Status Apply(const Layer& l, const containerd::types::Mount& m,
                     const std::string& ns, dpb::ApplyResponse* resp,
                     const std::string& media_type = kGzipLayer) {
    grpc::ClientContext ctx;
    if (!ns.empty()) ctx.AddMetadata(kNamespaceHeader, ns);
    dpb::ApplyRequest req;
    req.mutable_diff()->set_media_type(media_type);
    req.mutable_diff()->set_digest(l.digest);
    req.mutable_diff()->set_size(static_cast<int64_t>(l.blob.size()));
    *req.add_mounts() = m;
    req.set_sync_fs(true);
    return stub_->Apply(&ctx, req, resp);
  }

  static std::string Option(const containerd::types::Mount& m,
                            const std::string& name) {
    for (const auto& o : m.options()) {
      if (o.rfind(name + "=", 0) == 0) return o.substr(name.size() + 1);
    }
    return "";
  }

  TempDir dir_;
  std::unique_ptr<Engine> engine_;
  FakeContainerd containerd_;
  std::unique_ptr<grpc::Server> containerd_server_;
  std::unique_ptr<ContentClient> content_;
  ApplySlots slots_{2};
  std::unique_ptr<DiffService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<dpb::Diff::Stub> stub_;
};

TEST_F(DiffServiceTest, AppliesGzipLayersIntoBindAndOverlaySnapshots) {
  // A base layer bigger than one content message, into a fresh (bind) snapshot.
  std::string big = TestPayload(3 << 20);
  Layer base = GzipLayer({{Spec("etc/", '5'), ""},
                          {Spec("etc/hostname"), "strata\n"},
                          {Spec("big.bin"), big},
                          {Spec("gone"), "x"}});
  containerd_.Put("default", base.digest, base.blob);
  auto bind = Prepare("extract-1 base", "");
  ASSERT_EQ(bind.type(), "bind");
  dpb::ApplyResponse resp;
  grpc::Status s = Apply(base, bind, "default", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.applied().media_type(),
            "application/vnd.oci.image.layer.v1.tar");
  EXPECT_EQ(resp.applied().digest(), base.diff_id);
  EXPECT_EQ(resp.applied().size(), static_cast<int64_t>(base.tar.size()));
  EXPECT_EQ(ReadFile(bind.source() + "/etc/hostname"), "strata\n");
  EXPECT_EQ(ReadFile(bind.source() + "/big.bin"), big);
  ASSERT_TRUE(engine_->Commit("base", "extract-1 base", {}).ok());

  // The next layer into the overlay upperdir: whiteouts become overlay's.
  Layer top =
      GzipLayer({{Spec("etc/hostname"), "changed\n"}, {Spec(".wh.gone"), ""}});
  containerd_.Put("default", top.digest, top.blob);
  auto overlay = Prepare("extract-2 top", "base");
  ASSERT_EQ(overlay.type(), "overlay");
  s = Apply(top, overlay, "default", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.applied().digest(), top.diff_id);
  std::string upper = Option(overlay, "upperdir");
  EXPECT_EQ(ReadFile(upper + "/etc/hostname"), "changed\n");
  struct stat st;
  ASSERT_EQ(lstat((upper + "/gone").c_str(), &st), 0);
  if (geteuid() == 0) {
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(0, 0));
  }
  EXPECT_EQ(service_->applied(), 2u);
}

TEST_F(DiffServiceTest, ParallelUnpackShapeWritesIntoUpperdir) {
  Layer l = GzipLayer({{Spec("a"), "A"}});
  containerd_.Put("default", l.digest, l.blob);
  Prepare("base-key", "");
  ASSERT_TRUE(engine_->Commit("base", "base-key", {}).ok());
  auto overlay = Prepare("extract-p", "base");
  containerd::types::Mount m;  // containerd 2.x: overlay, upperdir only
  m.set_type("overlay");
  m.set_source("overlay");
  m.add_options("upperdir=" + Option(overlay, "upperdir"));
  dpb::ApplyResponse resp;
  grpc::Status s = Apply(l, m, "default", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ReadFile(Option(overlay, "upperdir") + "/a"), "A");
}

// containerd 2.x parallel unpack ("rebase"): every layer is prepared without
// a parent (a bind mount), applied, then committed onto the previous layer.
// Whiteouts in a bind-mounted overlay snapshot must stay overlay whiteouts,
// or the rebased chain would show files the layer deleted.
TEST_F(DiffServiceTest, ParallelUnpackWithRebaseKeepsWhiteouts) {
  Layer l1 = GzipLayer({{Spec("etc/", '5'), ""},
                        {Spec("etc/gone"), "g"},
                        {Spec("etc/kept"), "k"}});
  Layer l2 = GzipLayer({{Spec("etc/", '5'), ""},
                        {Spec("etc/.wh.gone"), ""},
                        {Spec("new"), "n"}});
  containerd_.Put("default", l1.digest, l1.blob);
  containerd_.Put("default", l2.digest, l2.blob);
  auto m1 = Prepare("extract-1 l1", "");
  auto m2 = Prepare("extract-2 l2", "");
  ASSERT_EQ(m2.type(), "bind");
  dpb::ApplyResponse resp;
  // Applied out of order, as parallel unpack may.
  grpc::Status s = Apply(l2, m2, "default", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.applied().digest(), l2.diff_id);
  s = Apply(l1, m1, "default", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(engine_->Commit("l1", "extract-1 l1", {}).ok());
  Status c = engine_->Commit("l2", "extract-2 l2", {}, "l1");
  ASSERT_TRUE(c.ok()) << c.ToString();
  struct stat st;
  ASSERT_EQ(lstat((m2.source() + "/etc/gone").c_str(), &st), 0)
      << "whiteout deleted, not kept";
  if (geteuid() == 0) {
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(0, 0));
  }
  EXPECT_EQ(engine_->Stat("l2").value().parent, "l1");
  EXPECT_EQ(service_->applied(), 2u);
  EXPECT_EQ(service_->tar_bytes(), l1.tar.size() + l2.tar.size());
  EXPECT_EQ(service_->blob_bytes(), l1.blob.size() + l2.blob.size());
}

TEST_F(DiffServiceTest, FindsTheBlobInAnyNamespaceWhenNoHeaderIsSent) {
  Layer l = GzipLayer({{Spec("f"), "from k8s.io"}});
  containerd_.Put("default", Sha256::Of("other"), "other");
  containerd_.Put("k8s.io", l.digest, l.blob);
  auto bind = Prepare("k", "");
  dpb::ApplyResponse resp;
  grpc::Status s = Apply(l, bind, "", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.applied().digest(), l.diff_id);
  EXPECT_EQ(containerd_.last_read_ns(), "k8s.io");
  EXPECT_EQ(ReadFile(bind.source() + "/f"), "from k8s.io");
}

TEST_F(DiffServiceTest, BlobInNoNamespaceIsNotFound) {
  Layer l = GzipLayer({{Spec("f"), "x"}});
  containerd_.Put("default", Sha256::Of("other"), "other");
  dpb::ApplyResponse resp;
  EXPECT_EQ(Apply(l, Prepare("k", ""), "", &resp).error_code(),
            grpc::NOT_FOUND);
  EXPECT_EQ(Apply(l, Prepare("k2", ""), "default", &resp).error_code(),
            grpc::NOT_FOUND);
}

TEST_F(DiffServiceTest, DigestMismatchIsDataLossNamingTheDigest) {
  Layer good = GzipLayer({{Spec("f"), "good"}});
  // Same size, still valid gzip (a flipped bit of the header's MTIME), but
  // not the bytes the digest names.
  std::string evil = good.blob;
  evil[4] ^= 1;
  containerd_.Put("default", good.digest, evil);
  dpb::ApplyResponse resp;
  grpc::Status s = Apply(good, Prepare("k", ""), "default", &resp);
  EXPECT_EQ(s.error_code(), grpc::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find(good.digest), std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("digest mismatch"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(service_->applied(), 0u);
  EXPECT_EQ(service_->failed(), 1u);
}

TEST_F(DiffServiceTest, CorruptGzipIsAnError) {
  Layer l;
  l.blob = "\x1f\x8b\x08\x00garbage-garbage-garbage";
  l.digest = Sha256::Of(l.blob);
  containerd_.Put("default", l.digest, l.blob);
  dpb::ApplyResponse resp;
  grpc::Status s = Apply(l, Prepare("k", ""), "default", &resp);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_code(), grpc::UNIMPLEMENTED);
}

TEST_F(DiffServiceTest, WhatStrataDoesNotServeIsUnimplemented) {
  Layer l = GzipLayer({{Spec("f"), "x"}});
  containerd_.Put("default", l.digest, l.blob);
  auto mine = Prepare("k", "");
  dpb::ApplyResponse resp;
  // Foreign mounts.
  containerd::types::Mount foreign;
  foreign.set_type("bind");
  foreign.set_source(dir_.path());
  foreign.add_options("rw");
  EXPECT_EQ(Apply(l, foreign, "default", &resp).error_code(),
            grpc::UNIMPLEMENTED);
  containerd::types::Mount tmpfs;
  tmpfs.set_type("tmpfs");
  tmpfs.set_source("tmpfs");
  EXPECT_EQ(Apply(l, tmpfs, "default", &resp).error_code(),
            grpc::UNIMPLEMENTED);
  // Media types.
  EXPECT_EQ(Apply(l, mine, "default", &resp,
                  "application/vnd.oci.image.layer.v1.tar+gzip+encrypted")
                .error_code(),
            grpc::UNIMPLEMENTED);
  EXPECT_EQ(
      Apply(l, mine, "default", &resp, "application/x-unknown").error_code(),
      grpc::UNIMPLEMENTED);
  // Payloads.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata(kNamespaceHeader, "default");
    dpb::ApplyRequest req;
    req.mutable_diff()->set_media_type(kGzipLayer);
    req.mutable_diff()->set_digest(l.digest);
    *req.add_mounts() = mine;
    google::protobuf::StringValue v;
    v.set_value("key");
    (*req.mutable_payloads())["io.containerd.ocicrypt.decoder.v1.tar"].PackFrom(
        v);
    EXPECT_EQ(stub_->Apply(&ctx, req, &resp).error_code(), grpc::UNIMPLEMENTED);
  }
  // Diff.
  {
    grpc::ClientContext ctx;
    dpb::DiffRequest req;
    dpb::DiffResponse dresp;
    EXPECT_EQ(stub_->Diff(&ctx, req, &dresp).error_code(), grpc::UNIMPLEMENTED);
  }
  // Nothing was written into the snapshot.
  EXPECT_EQ(access((mine.source() + "/f").c_str(), F_OK), -1);
  EXPECT_EQ(service_->applied(), 0u);
  EXPECT_EQ(service_->declined(), 5u)
      << "two mounts, two media types, payloads";
  EXPECT_EQ(service_->failed(), 0u);
}

TEST_F(DiffServiceTest, UnreachableContainerdFallsBackWithUnimplemented) {
  containerd_server_->Shutdown();
  containerd_server_.reset();
  unlink((dir_ / "containerd.sock").c_str());
  Layer l = GzipLayer({{Spec("f"), "x"}});
  dpb::ApplyResponse resp;
  EXPECT_EQ(Apply(l, Prepare("k", ""), "default", &resp).error_code(),
            grpc::UNIMPLEMENTED);
}

TEST_F(DiffServiceTest, AfterDrainApplyIsUnavailable) {
  Layer l = GzipLayer({{Spec("f"), "x"}});
  containerd_.Put("default", l.digest, l.blob);
  auto m = Prepare("k", "");
  EXPECT_TRUE(service_->Drain(std::chrono::seconds(1)));
  dpb::ApplyResponse resp;
  EXPECT_EQ(Apply(l, m, "default", &resp).error_code(), grpc::UNAVAILABLE);
}

TEST_F(DiffServiceTest, HostileLayerWritesNothingOutsideTheSnapshot) {
  // ".." entries and a symlink pointing out of the layer, then a file through
  // it: the extractor resolves every path inside the snapshot's directory.
  HeaderSpec link = Spec("link", '2');
  link.linkname = dir_.path();
  Layer l = GzipLayer({{Spec("../../../escaped-dotdot"), "x"},
                       {link, ""},
                       {Spec("link/escaped-symlink"), "x"}});
  containerd_.Put("default", l.digest, l.blob);
  auto m = Prepare("k", "");
  dpb::ApplyResponse resp;
  grpc::Status s = Apply(l, m, "default", &resp);
  EXPECT_NE(s.error_code(), grpc::UNIMPLEMENTED) << s.error_message();
  EXPECT_EQ(access((dir_ / "escaped-dotdot").c_str(), F_OK), -1);
  EXPECT_EQ(access((dir_ / "escaped-symlink").c_str(), F_OK), -1);
  EXPECT_EQ(access((dir_ / "root/escaped-dotdot").c_str(), F_OK), -1);
  EXPECT_EQ(access((dir_ / "root/snapshots/escaped-dotdot").c_str(), F_OK), -1);
}

// The report's layer: `x -> <host file>`, `l -> .`, then a directory entry
// `l/x` (mode 0777, another owner) that used to re-mode the host file.
TEST_F(DiffServiceTest, AliasedDirectoryOverAHostSymlinkChangesNothingOutside) {
  std::string decoy = dir_ / "decoy";
  MakeDecoy(decoy);
  TreeState before = TreeState::Capture(decoy);
  HeaderSpec x = Spec("x", '2');
  x.linkname = decoy + "/file";
  HeaderSpec l = Spec("l", '2');
  l.linkname = ".";
  HeaderSpec lx = Spec("l/x", '5');
  lx.mode = 0777;
  Layer layer = GzipLayer({{x, ""}, {l, ""}, {lx, ""}});
  containerd_.Put("default", layer.digest, layer.blob);
  for (const char* parent : {"", "base"}) {
    if (*parent) {
      auto b = engine_->Prepare("base-active", "", {});
      ASSERT_TRUE(b.ok());
      ASSERT_TRUE(engine_->Commit("base", "base-active", {}).ok());
    }
    auto m = Prepare(std::string("k") + parent, parent);
    dpb::ApplyResponse resp;
    grpc::Status s = Apply(layer, m, "default", &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    TreeState after = TreeState::Capture(decoy);
    EXPECT_TRUE(after == before) << after.DiffFrom(before);
  }
  // The daemon still serves.
  Layer ok = GzipLayer({{Spec("a"), "A"}});
  containerd_.Put("default", ok.digest, ok.blob);
  dpb::ApplyResponse resp;
  EXPECT_TRUE(Apply(ok, Prepare("after", ""), "default", &resp).ok());
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// Compare (Diff): the layer of a child's changes written into the fake
// content store, declined for what is not Strata's.
class CompareTest : public DiffServiceTest {
 protected:
  void SetUp() override {
    DiffServiceTest::SetUp();
    auto base = Prepare("default/1/base-a", "");
    ASSERT_EQ(base.type(), "bind");
    Write(base.source() + "/keep", "keep");
    Write(base.source() + "/gone", "gone");
    ASSERT_EQ(mkdir((base.source() + "/etc").c_str(), 0755), 0);
    Write(base.source() + "/etc/hostname", "strata");
    ASSERT_TRUE(engine_->Commit("default/2/base", "default/1/base-a", {}).ok());
    right_ = Prepare("default/3/c", "default/2/base");
    std::string upper = right_.type() == "overlay" ? Option(right_, "upperdir")
                                                   : right_.source();
    ASSERT_EQ(mkdir((upper + "/etc").c_str(), 0755) == 0 || errno == EEXIST,
              true);
    Write(upper + "/etc/hostname", "changed!");
    Write(upper + "/new", "new");
    if (right_.type() == "overlay") {
      whiteouts_ =
          mknod((upper + "/gone").c_str(), S_IFCHR, makedev(0, 0)) == 0;
    } else {
      whiteouts_ = unlink((upper + "/gone").c_str()) == 0;
    }
    auto v = engine_->View("default/4/v", "default/2/base", {});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    left_ = ToProto((*v)[0]);
  }

  static void Write(const std::string& path, const std::string& data) {
    std::ofstream(path) << data;
  }
  static containerd::types::Mount ToProto(const Mount& m) {
    containerd::types::Mount p;
    p.set_type(m.type);
    p.set_source(m.source);
    for (const auto& o : m.options) p.add_options(o);
    return p;
  }

  grpc::Status Compare(const containerd::types::Mount& left,
                       const containerd::types::Mount& right,
                       const std::string& media_type, dpb::DiffResponse* resp,
                       const std::string& ns = "default",
                       const std::string& ref = "") {
    grpc::ClientContext ctx;
    if (!ns.empty()) ctx.AddMetadata(kNamespaceHeader, ns);
    dpb::DiffRequest req;
    *req.add_left() = left;
    *req.add_right() = right;
    req.set_media_type(media_type);
    req.set_ref(ref);
    (*req.mutable_labels())["containerd.io/gc.root"] = "now";
    return stub_->Diff(&ctx, req, resp);
  }

  // Entry names of a stored layer, with its uncompressed bytes' digest.
  std::vector<std::string> Names(const std::string& blob,
                                 std::string* diff_id) {
    auto src = OpenDecompressed(std::make_unique<MemorySource>(blob));
    EXPECT_TRUE(src.ok());
    std::string tar;
    char buf[65536];
    for (;;) {
      auto n = (*src)->Read(buf, sizeof(buf));
      if (!n.ok() || *n == 0) break;
      tar.append(buf, *n);
    }
    *diff_id = Sha256::Of(tar);
    MemorySource in(tar);
    TarReader reader(in);
    std::vector<std::string> names;
    TarEntry e;
    for (;;) {
      auto more = reader.Next(&e);
      if (!more.ok() || !*more) break;
      names.push_back(e.path);
    }
    return names;
  }

  containerd::types::Mount left_, right_;
  bool whiteouts_ = false;
};

TEST_F(CompareTest, WritesTheLayerInEachMediaType) {
  const std::string tar = "application/vnd.oci.image.layer.v1.tar";
  for (const std::string& mt : {tar, tar + "+gzip", tar + "+zstd"}) {
    dpb::DiffResponse resp;
    grpc::Status s = Compare(left_, right_, mt, &resp);
    ASSERT_TRUE(s.ok()) << mt << ": " << s.error_message();
    EXPECT_EQ(resp.diff().media_type(), mt);
    std::string blob = containerd_.blob("default", resp.diff().digest());
    ASSERT_FALSE(blob.empty()) << mt;
    EXPECT_EQ(Sha256::Of(blob), resp.diff().digest());
    EXPECT_EQ(static_cast<int64_t>(blob.size()), resp.diff().size());
    std::string diff_id;
    std::vector<std::string> names = Names(blob, &diff_id);
    std::vector<std::string> want{"etc/", "etc/hostname"};
    if (whiteouts_) want.push_back(".wh.gone");
    want.push_back("new");
    EXPECT_EQ(names, want) << mt;
    auto labels = containerd_.labels(resp.diff().digest());
    EXPECT_EQ(labels["containerd.io/gc.root"], "now") << mt;
    if (mt == tar) {
      EXPECT_EQ(labels.count("containerd.io/uncompressed"), 0u);
      EXPECT_EQ(resp.diff().digest(), diff_id);
    } else {
      EXPECT_EQ(labels["containerd.io/uncompressed"], diff_id) << mt;
    }
  }
  EXPECT_EQ(service_->compared(), 3u);
  EXPECT_EQ(service_->compare_declined(), 0u);
  // The default media type is gzip, as containerd's walking differ's.
  dpb::DiffResponse resp;
  ASSERT_TRUE(Compare(left_, right_, "", &resp).ok());
  EXPECT_EQ(resp.diff().media_type(), tar + "+gzip");
}

TEST_F(CompareTest, AnExistingBlobGetsItsMissingUncompressedLabel) {
  dpb::DiffResponse first, second;
  ASSERT_TRUE(Compare(left_, right_, kGzipLayer, &first).ok());
  std::string diff_id =
      containerd_.labels(first.diff().digest())["containerd.io/uncompressed"];
  containerd_.DropLabels(first.diff().digest());
  grpc::Status s =
      Compare(left_, right_, kGzipLayer, &second, "default", "caller-ref");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.diff().digest(), first.diff().digest());
  EXPECT_EQ(
      containerd_.labels(first.diff().digest())["containerd.io/uncompressed"],
      diff_id);
  auto commits = containerd_.commits();
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[1].ref, "caller-ref");
  EXPECT_NE(commits[0].ref, "");
}

TEST_F(CompareTest, TheNamespaceComesFromTheKeyWhenNotSent) {
  dpb::DiffResponse resp;
  ASSERT_TRUE(Compare(left_, right_, kGzipLayer, &resp, "").ok());
  auto commits = containerd_.commits();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].ns, "default");
}

TEST_F(CompareTest, DeclinesWhatIsNotItsOwnBeforeWriting) {
  dpb::DiffResponse resp;
  containerd::types::Mount foreign;
  foreign.set_type("bind");
  foreign.set_source(dir_.path());
  foreign.add_options("ro");
  EXPECT_EQ(Compare(left_, foreign, kGzipLayer, &resp).error_code(),
            grpc::UNIMPLEMENTED);
  EXPECT_EQ(Compare(foreign, right_, kGzipLayer, &resp).error_code(),
            grpc::UNIMPLEMENTED);
  // A left side that is not right's parent: a view of nothing.
  auto empty = engine_->View("default/5/empty", "", {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(
      Compare(ToProto((*empty)[0]), right_, kGzipLayer, &resp).error_code(),
      grpc::UNIMPLEMENTED);
  EXPECT_EQ(Compare(left_, right_, "application/x-unknown", &resp).error_code(),
            grpc::UNIMPLEMENTED);
  EXPECT_TRUE(containerd_.commits().empty());
  EXPECT_EQ(service_->compare_declined(), 4u);
  EXPECT_EQ(service_->compared(), 0u);
}

TEST_F(CompareTest, UnreachableContainerdDeclines) {
  containerd_server_->Shutdown();
  containerd_server_.reset();
  unlink((dir_ / "containerd.sock").c_str());
  dpb::DiffResponse resp;
  EXPECT_EQ(Compare(left_, right_, kGzipLayer, &resp).error_code(),
            grpc::UNIMPLEMENTED);
}

}  // namespace
}  // namespace strata
