// Inflater: one gzip member decoder behind GzipSource, implemented over zlib
// (inflater_zlib.cc) and over ISA-L's igzip (inflater_isal.cc). GzipSource owns
// the stream logic (members, truncation, trailing garbage); an Inflater only
// turns the bytes of one member into output.
//
// Thread-safety: one thread at a time.
#ifndef STRATA_IO_DECOMPRESS_INFLATER_H_
#define STRATA_IO_DECOMPRESS_INFLATER_H_

#include <cstddef>
#include <memory>

#include "io/base/result.h"

namespace strata {

class Inflater {
 public:
  struct Step {
    size_t consumed = 0;      // input bytes used
    size_t produced = 0;      // output bytes written
    bool member_end = false;  // the member's trailer was read and verified
  };
  virtual ~Inflater() = default;
  // Decodes from in[0, in_len) into out[0, out_len). Consumes no input past
  // the end of the member. Corrupt data is InvalidArgument (message without
  // context; GzipSource adds it).
  virtual Result<Step> Inflate(const char* in, size_t in_len, char* out,
                               size_t out_len) = 0;
  // Prepares for the next member, gzip header first.
  virtual Status Reset() = 0;
};

Result<std::unique_ptr<Inflater>> NewZlibInflater();
// Unimplemented when Strata was built without ISA-L.
Result<std::unique_ptr<Inflater>> NewIsalInflater();
bool IsalInflaterAvailable();

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_INFLATER_H_
