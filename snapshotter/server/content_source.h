// Reading layer blobs from containerd's content store over its gRPC API
// (containerd.services.content.v1.Content on containerd's socket).
//
// ContentClient finds the namespace holding a blob: the one the incoming call
// named (containerd-namespace metadata), or, when containerd did not forward
// it (Debian's 1.6/1.7 builds), the first namespace the Namespaces API lists
// whose content store has the digest; content is addressed by digest, so any
// copy is right. BlobSource streams the blob with one server-streaming Read
// of the whole object and verifies size and sha256 as the bytes pass: at the
// end of the stream a mismatch is DataLoss naming the digest, and the error
// is sticky.
//
// Thread-safety: ContentClient is thread-safe (gRPC stubs are); a BlobSource
// belongs to one thread.
#ifndef STRATA_SNAPSHOTTER_SERVER_CONTENT_SOURCE_H_
#define STRATA_SNAPSHOTTER_SERVER_CONTENT_SOURCE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "io/base/byte_sink.h"
#include "io/base/result.h"
#include "io/base/sha256.h"
#include "io/decompress/source.h"

namespace strata {

// The gRPC metadata key containerd reads its namespace from.
inline constexpr const char* kNamespaceHeader = "containerd-namespace";

// Checks "sha256:<64 lowercase hex>"; other algorithms are Unimplemented,
// malformed digests InvalidArgument.
Status CheckSha256Digest(const std::string& digest);

class BlobSource final : public Source {
 public:
  // Starts Read(digest) in namespace `ns`. `size` is the descriptor's size
  // (checked at the end when > 0).
  BlobSource(containerd::services::content::v1::Content::Stub& stub,
             const std::string& ns, std::string digest, int64_t size);
  ~BlobSource() override;

  Result<size_t> Read(char* buf, size_t n) override;
  // Reads what is left and returns the verification result.
  Status Finish();
  int64_t bytes() const { return bytes_; }
  // Response messages received (one per gRPC message).
  int64_t messages() const { return messages_; }
  // Time spent waiting for containerd's messages, in nanoseconds.
  int64_t wait_ns() const { return wait_ns_; }

 private:
  Status EndOfStream();

  std::string digest_;
  int64_t size_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<
      containerd::services::content::v1::ReadContentResponse>>
      reader_;
  containerd::services::content::v1::ReadContentResponse resp_;
  size_t pos_ = 0;  // consumed bytes of resp_.data()
  Sha256 hash_;
  int64_t bytes_ = 0;
  int64_t messages_ = 0;
  int64_t wait_ns_ = 0;
  bool done_ = false;
  Status error_;
};

// One blob written into containerd's content store through Content.Write
// (a bidirectional stream, one ingest named by ref), as containerd's own
// remote writer does it: STAT, WRITEs from offset 0 (which restarts an
// ingest of the same ref), COMMIT with the size, the expected digest and
// the labels. A blob the store already has commits as AlreadyExists, which
// is success: then, as containerd's walking differ does, only a missing
// containerd.io/uncompressed label is added (Update). Data is sent in
// messages of at most 1 MiB (gRPC's default message limit is 4 MiB).
class ContentWriter final : public ByteSink {
 public:
  ~ContentWriter() override;
  Status Write(std::string_view bytes) override;
  // Commits `size` bytes with digest `digest` and `labels`.
  Status Commit(int64_t size, const std::string& digest,
                const std::map<std::string, std::string>& labels);
  // Ends the stream and drops the ingest (after a failure, for a ref the
  // caller did not choose; containerd keeps a caller's ref for a retry).
  void Abort();

 private:
  friend class ContentClient;
  ContentWriter(containerd::services::content::v1::Content::Stub& stub,
                std::string ns, std::string lease, std::string ref);
  Status Start();
  void Close();  // ends the stream, keeping the ingest
  Status Send(containerd::services::content::v1::WriteContentRequest& req);
  Status Flush();
  Status AddMissingLabel(const std::string& digest, const std::string& key,
                         const std::string& value);
  void Metadata(grpc::ClientContext& ctx) const;

  containerd::services::content::v1::Content::Stub& stub_;
  std::string ns_, lease_, ref_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<
      containerd::services::content::v1::WriteContentRequest,
      containerd::services::content::v1::WriteContentResponse>>
      stream_;
  std::string buf_;
  int64_t offset_ = 0;
  bool done_ = false;
  Status error_;
};

// The gRPC metadata key containerd reads a lease from.
inline constexpr const char* kLeaseHeader = "containerd-lease";

class ContentClient {
 public:
  // Connects lazily to `address` (a unix socket path).
  explicit ContentClient(const std::string& address);
  // Over an existing channel (tests).
  explicit ContentClient(std::shared_ptr<grpc::Channel> channel);

  // The namespace to read `digest` from: `ns` when non-empty and it holds
  // the blob, else the first listed namespace that does. NotFound when none
  // does; Unavailable/DeadlineExceeded when containerd cannot be reached.
  // Stores the blob's size in *size.
  Result<std::string> FindBlob(const std::string& ns, const std::string& digest,
                               int64_t* size);

  std::unique_ptr<BlobSource> Open(const std::string& ns,
                                   const std::string& digest, int64_t size);

  // Whether containerd answers: one namespace List within `timeout`, on a
  // channel of its own when built from an address. Unavailable or
  // DeadlineExceeded with gRPC's reason when not.
  Status Probe(std::chrono::milliseconds timeout) const;

  // Starts writing a blob as ingest `ref` in namespace `ns`, under lease
  // `lease` when not empty. Unavailable when containerd cannot be reached.
  Result<std::unique_ptr<ContentWriter>> Writer(const std::string& ns,
                                                const std::string& lease,
                                                const std::string& ref);

 private:
  Result<int64_t> Info(const std::string& ns, const std::string& digest);

  std::string address_;  // empty when built over a channel
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<containerd::services::content::v1::Content::Stub> content_;
  std::unique_ptr<containerd::services::namespaces::v1::Namespaces::Stub>
      namespaces_;
  std::chrono::milliseconds timeout_{10000};
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_CONTENT_SOURCE_H_
