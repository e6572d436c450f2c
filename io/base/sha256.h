// Streaming SHA-256 (OpenSSL's libcrypto) and OCI digest strings.
//
// Thread-safety: one object per stream.
#ifndef STRATA_IO_BASE_SHA256_H_
#define STRATA_IO_BASE_SHA256_H_

#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace strata {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // "sha256:<64 hex>". Ends the stream.
  std::string Digest();
  // The 32 raw bytes. Ends the stream.
  std::string Raw();

  static std::string Of(std::string_view data);
  static std::string RawOf(std::string_view data);

 private:
  evp_md_ctx_st* ctx_;
};

// OCI ChainID: the first layer's is its DiffID; each next one is
// sha256(parent_chain_id + " " + diff_id).
std::string ChainId(std::string_view parent_chain_id, std::string_view diff_id);

}  // namespace strata

#endif  // STRATA_IO_BASE_SHA256_H_
