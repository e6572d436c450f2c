#include "io/decompress/inflater.h"

#ifdef STRATA_HAVE_ISAL
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <climits>
#include <string>
#endif

namespace strata {

#ifdef STRATA_HAVE_ISAL
namespace {

std::string IsalErrorName(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid lookback distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "incorrect checksum";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
    default:
      return "isal_inflate error " + std::to_string(rc);
  }
}

class IsalInflater final : public Inflater {
 public:
  IsalInflater() { Start(); }

  Result<Step> Inflate(const char* in, size_t in_len, char* out,
                       size_t out_len) override {
    const uint32_t in_avail =
        static_cast<uint32_t>(std::min<size_t>(in_len, UINT32_MAX));
    const uint32_t out_avail =
        static_cast<uint32_t>(std::min<size_t>(out_len, UINT32_MAX));
    state_.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in));
    state_.avail_in = in_avail;
    state_.next_out = reinterpret_cast<uint8_t*>(out);
    state_.avail_out = out_avail;
    int rc = isal_inflate(&state_);
    Step step;
    step.consumed = in_avail - state_.avail_in;
    step.produced = out_avail - state_.avail_out;
    // Positive codes (ISAL_END_INPUT, ...) only report progress; NEED_DICT is
    // positive too but fatal for gzip.
    if (rc < 0 || rc == ISAL_NEED_DICT) {
      return InvalidArgument("corrupt data: " + IsalErrorName(rc));
    }
    // The bit buffer holds at most 64 bits, exactly the gzip trailer, so at
    // ISAL_BLOCK_FINISH no byte of the next member has been consumed.
    step.member_end = state_.block_state == ISAL_BLOCK_FINISH;
    return step;
  }

  Status Reset() override {
    Start();
    return Status();
  }

 private:
  void Start() {
    isal_inflate_init(&state_);
    state_.crc_flag = ISAL_GZIP;  // parse the gzip header, verify CRC + size
  }

  struct inflate_state state_;
};

}  // namespace

Result<std::unique_ptr<Inflater>> NewIsalInflater() {
  return std::unique_ptr<Inflater>(std::make_unique<IsalInflater>());
}
bool IsalInflaterAvailable() { return true; }

#else  // !STRATA_HAVE_ISAL

Result<std::unique_ptr<Inflater>> NewIsalInflater() {
  return Unimplemented("gzip: Strata was built without ISA-L");
}
bool IsalInflaterAvailable() { return false; }

#endif  // STRATA_HAVE_ISAL

}  // namespace strata
