#include "snapshotter/server/content_source.h"

#include <algorithm>
#include <cstring>

#include "proto/support/grpc_status.h"

namespace strata {
namespace {

namespace cpb = containerd::services::content::v1;
namespace npb = containerd::services::namespaces::v1;

std::shared_ptr<grpc::Channel> Dial(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel("unix:" + address,
                                   grpc::InsecureChannelCredentials(), args);
}

}  // namespace

Status CheckSha256Digest(const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos)
    return InvalidArgument("bad digest \"" + digest + "\"");
  if (digest.compare(0, colon, "sha256") != 0) {
    return Unimplemented("digest algorithm \"" + digest.substr(0, colon) +
                         "\"");
  }
  std::string_view hex(digest);
  hex.remove_prefix(colon + 1);
  bool ok = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
  return ok ? Status::Ok() : InvalidArgument("bad digest \"" + digest + "\"");
}

BlobSource::BlobSource(cpb::Content::Stub& stub, const std::string& ns,
                       std::string digest, int64_t size)
    : digest_(std::move(digest)), size_(size) {
  if (!ns.empty()) ctx_.AddMetadata(kNamespaceHeader, ns);
  cpb::ReadContentRequest req;
  req.set_digest(digest_);  // offset 0, size 0: the whole blob in one stream
  reader_ = stub.Read(&ctx_, req);
}

BlobSource::~BlobSource() {
  if (!done_) {
    ctx_.TryCancel();
    (void)reader_->Finish();
  }
}

Result<size_t> BlobSource::Read(char* buf, size_t n) {
  if (!error_.ok()) return error_;
  while (pos_ == resp_.data().size()) {
    if (done_) return size_t{0};
    auto t0 = std::chrono::steady_clock::now();
    bool got = reader_->Read(&resp_);
    wait_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
    if (!got) {
      done_ = true;
      error_ = EndOfStream();
      if (!error_.ok()) return error_;
      return size_t{0};
    }
    messages_++;
    if (resp_.offset() != bytes_) {
      error_ = DataLoss(
          "blob " + digest_ + ": content stream jumped from offset " +
          std::to_string(bytes_) + " to " + std::to_string(resp_.offset()));
      return error_;
    }
    pos_ = 0;
    hash_.Update(resp_.data());
    bytes_ += static_cast<int64_t>(resp_.data().size());
  }
  size_t k = std::min(n, resp_.data().size() - pos_);
  std::memcpy(buf, resp_.data().data() + pos_, k);
  pos_ += k;
  return k;
}

Status BlobSource::EndOfStream() {
  STRATA_RETURN_IF_ERROR(
      FromGrpc(reader_->Finish(), "read blob " + digest_ + " from containerd"));
  if (size_ > 0 && bytes_ != size_) {
    return DataLoss("blob " + digest_ + ": size mismatch: descriptor says " +
                    std::to_string(size_) + " bytes, content store gave " +
                    std::to_string(bytes_));
  }
  std::string got = hash_.Digest();
  if (got != digest_) {
    return DataLoss("blob " + digest_ +
                    ": digest mismatch: content hashes to " + got);
  }
  return Status::Ok();
}

Status BlobSource::Finish() {
  char buf[64 << 10];
  while (true) {
    STRATA_ASSIGN_OR_RETURN(size_t n, Read(buf, sizeof(buf)));
    if (n == 0) return Status::Ok();
  }
}

ContentClient::ContentClient(const std::string& address)
    : ContentClient(Dial(address)) {
  address_ = address;
}

ContentClient::ContentClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      content_(cpb::Content::NewStub(channel_)),
      namespaces_(npb::Namespaces::NewStub(channel_)) {}

Result<int64_t> ContentClient::Info(const std::string& ns,
                                    const std::string& digest) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.AddMetadata(kNamespaceHeader, ns);
  cpb::InfoRequest req;
  req.set_digest(digest);
  cpb::InfoResponse resp;
  STRATA_RETURN_IF_ERROR(
      FromGrpc(content_->Info(&ctx, req, &resp),
               "content info " + digest + " in namespace " + ns));
  return resp.info().size();
}

Result<std::string> ContentClient::FindBlob(const std::string& ns,
                                            const std::string& digest,
                                            int64_t* size) {
  if (!ns.empty()) {
    STRATA_ASSIGN_OR_RETURN(*size, Info(ns, digest));
    return ns;
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  npb::ListNamespacesRequest req;
  npb::ListNamespacesResponse resp;
  STRATA_RETURN_IF_ERROR(FromGrpc(namespaces_->List(&ctx, req, &resp),
                                  "list containerd namespaces"));
  for (const auto& n : resp.namespaces()) {
    auto r = Info(n.name(), digest);
    if (r.ok()) {
      *size = *r;
      return n.name();
    }
    if (r.status().code() != Code::kNotFound) return r.status();
  }
  return NotFound("blob " + digest + " is in none of containerd's " +
                  std::to_string(resp.namespaces_size()) + " namespaces");
}

Status ContentClient::Probe(std::chrono::milliseconds timeout) const {
  // A channel of its own, with its own subchannel: a failed probe must not
  // leave the channel Apply uses in reconnect backoff (gRPC shares
  // subchannels between channels to one address by default), or the first
  // Applies after containerd comes up would be declined.
  std::unique_ptr<npb::Namespaces::Stub> own;
  npb::Namespaces::Stub* stub = namespaces_.get();
  if (!address_.empty()) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    own = npb::Namespaces::NewStub(grpc::CreateCustomChannel(
        "unix:" + address_, grpc::InsecureChannelCredentials(), args));
    stub = own.get();
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  npb::ListNamespacesRequest req;
  npb::ListNamespacesResponse resp;
  return FromGrpc(stub->List(&ctx, req, &resp), "list containerd namespaces");
}

std::unique_ptr<BlobSource> ContentClient::Open(const std::string& ns,
                                                const std::string& digest,
                                                int64_t size) {
  return std::make_unique<BlobSource>(*content_, ns, digest, size);
}

Result<std::unique_ptr<ContentWriter>> ContentClient::Writer(
    const std::string& ns, const std::string& lease, const std::string& ref) {
  std::unique_ptr<ContentWriter> w(
      new ContentWriter(*content_, ns, lease, ref));
  STRATA_RETURN_IF_ERROR(w->Start());
  return w;
}

namespace {
constexpr size_t kWriteChunk = 1 << 20;
constexpr const char* kUncompressedLabel = "containerd.io/uncompressed";
}  // namespace

ContentWriter::ContentWriter(cpb::Content::Stub& stub, std::string ns,
                             std::string lease, std::string ref)
    : stub_(stub),
      ns_(std::move(ns)),
      lease_(std::move(lease)),
      ref_(std::move(ref)) {}

ContentWriter::~ContentWriter() { Close(); }

void ContentWriter::Close() {
  if (!done_ && stream_ != nullptr) {
    ctx_.TryCancel();
    stream_->Finish().ok();  // the cancellation, expected
  }
  done_ = true;
}

void ContentWriter::Metadata(grpc::ClientContext& ctx) const {
  ctx.AddMetadata(kNamespaceHeader, ns_);
  if (!lease_.empty()) ctx.AddMetadata(kLeaseHeader, lease_);
}

Status ContentWriter::Start() {
  Metadata(ctx_);
  stream_ = stub_.Write(&ctx_);
  cpb::WriteContentRequest req;
  req.set_action(cpb::STAT);
  return Send(req);
}

Status ContentWriter::Send(cpb::WriteContentRequest& req) {
  if (!error_.ok()) return error_;
  req.set_ref(ref_);
  cpb::WriteContentResponse resp;
  if (!stream_->Write(req) || !stream_->Read(&resp)) {
    stream_->WritesDone();
    while (stream_->Read(&resp)) {
    }
    error_ = FromGrpc(stream_->Finish(), "content write " + ref_);
    if (error_.ok())
      error_ = Unavailable("content write " + ref_ + ": stream ended");
    done_ = true;
    return error_;
  }
  return Status::Ok();
}

Status ContentWriter::Flush() {
  if (buf_.empty()) return Status::Ok();
  cpb::WriteContentRequest req;
  req.set_action(cpb::WRITE);
  req.set_offset(offset_);
  req.set_data(std::move(buf_));
  buf_.clear();
  STRATA_RETURN_IF_ERROR(Send(req));
  offset_ += static_cast<int64_t>(req.data().size());
  return Status::Ok();
}

Status ContentWriter::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t n = std::min(bytes.size(), kWriteChunk - buf_.size());
    buf_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (buf_.size() == kWriteChunk) STRATA_RETURN_IF_ERROR(Flush());
  }
  return Status::Ok();
}

Status ContentWriter::Commit(int64_t size, const std::string& digest,
                             const std::map<std::string, std::string>& labels) {
  STRATA_RETURN_IF_ERROR(Flush());
  cpb::WriteContentRequest req;
  req.set_action(cpb::COMMIT);
  req.set_offset(offset_);
  req.set_total(size);
  req.set_expected(digest);
  for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
  Status sent = Send(req);
  if (sent.ok()) {
    // Finish needs every answer read first.
    stream_->WritesDone();
    cpb::WriteContentResponse extra;
    while (stream_->Read(&extra)) {
    }
    sent = FromGrpc(stream_->Finish(), "content commit " + digest);
    done_ = true;
  }
  if (sent.code() == Code::kAlreadyExists) {
    done_ = true;
    auto it = labels.find(kUncompressedLabel);
    if (it == labels.end() || it->second.empty()) return Status::Ok();
    return AddMissingLabel(digest, it->first, it->second);
  }
  return sent;
}

Status ContentWriter::AddMissingLabel(const std::string& digest,
                                      const std::string& key,
                                      const std::string& value) {
  grpc::ClientContext ctx;
  Metadata(ctx);
  cpb::InfoRequest ireq;
  ireq.set_digest(digest);
  cpb::InfoResponse iresp;
  STRATA_RETURN_IF_ERROR(
      FromGrpc(stub_.Info(&ctx, ireq, &iresp), "content info " + digest));
  if (iresp.info().labels().count(key)) return Status::Ok();
  grpc::ClientContext uctx;
  Metadata(uctx);
  cpb::UpdateRequest ureq;
  ureq.mutable_info()->set_digest(digest);
  (*ureq.mutable_info()->mutable_labels())[key] = value;
  ureq.mutable_update_mask()->add_paths("labels." + key);
  cpb::UpdateResponse uresp;
  return FromGrpc(stub_.Update(&uctx, ureq, &uresp),
                  "content update " + digest);
}

void ContentWriter::Abort() {
  Close();
  grpc::ClientContext ctx;
  Metadata(ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  cpb::AbortRequest req;
  req.set_ref(ref_);
  google::protobuf::Empty empty;
  stub_.Abort(&ctx, req, &empty).ok();  // NotFound when nothing was ingested
}

}  // namespace strata
