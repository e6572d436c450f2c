#include "io/base/sha256.h"

#include <openssl/evp.h>

namespace strata {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_, data.data(), data.size());
}

std::string Sha256::Digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string Sha256::Raw() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string Sha256::RawOf(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Raw();
}

std::string Sha256::Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Digest();
}

std::string ChainId(std::string_view parent_chain_id,
                    std::string_view diff_id) {
  if (parent_chain_id.empty()) return std::string(diff_id);
  std::string s(parent_chain_id);
  s += ' ';
  s += diff_id;
  return Sha256::Of(s);
}

}  // namespace strata
