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
    : ContentClient(Dial(address)) {}

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

std::unique_ptr<BlobSource> ContentClient::Open(const std::string& ns,
                                                const std::string& digest,
                                                int64_t size) {
  return std::make_unique<BlobSource>(*content_, ns, digest, size);
}

}  // namespace strata
