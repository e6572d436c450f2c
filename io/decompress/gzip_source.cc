#include "io/decompress/gzip_source.h"

#include <string>
#include <utility>

#include "io/base/buffered_reader.h"
#include "io/decompress/inflater.h"

namespace strata {
namespace {

constexpr size_t kInputBufferBytes = 128 << 10;

class GzipSource final : public Source {
 public:
  GzipSource(std::unique_ptr<Source> raw, std::unique_ptr<Inflater> inflater)
      : raw_(std::move(raw)),
        in_(*raw_, kInputBufferBytes),
        inflater_(std::move(inflater)) {}

  Result<size_t> Read(char* buf, size_t n) override {
    while (true) {
      if (state_ == State::kDone) return size_t{0};
      if (state_ == State::kBetweenMembers)
        STRATA_RETURN_IF_ERROR(StartMember());
      if (state_ == State::kDone) return size_t{0};

      auto step = inflater_->Inflate(in_.data(), in_.size(), buf, n);
      if (!step.ok()) {
        return step.status().WithContext(
            "gzip: member " + std::to_string(members_) +
            " near compressed offset " + std::to_string(in_.consumed()));
      }
      in_.Consume(step->consumed);
      if (step->member_end) state_ = State::kBetweenMembers;
      if (step->produced > 0) return step->produced;
      if (step->consumed > 0 || step->member_end) continue;

      // No progress: the inflater needs more input.
      if (in_.size() > 0) {
        return Internal(
            "gzip: inflater made no progress at compressed offset " +
            std::to_string(in_.consumed()));
      }
      STRATA_ASSIGN_OR_RETURN(bool more, in_.Fill());
      if (!more) {
        return DataLoss("gzip: stream truncated inside member " +
                        std::to_string(members_) + " after " +
                        std::to_string(in_.consumed()) + " compressed bytes");
      }
    }
  }

 private:
  enum class State { kBetweenMembers, kInMember, kDone };

  // At a member boundary: the stream ends here, or another member starts.
  Status StartMember() {
    STRATA_ASSIGN_OR_RETURN(bool two, in_.Ensure(2));
    if (in_.size() == 0 && members_ > 0) {
      state_ = State::kDone;
      return Status();
    }
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data());
    if (!two && p[0] == 0x1f) {
      return DataLoss("gzip: stream truncated inside the header of member " +
                      std::to_string(members_ + 1));
    }
    if (!two || p[0] != 0x1f || p[1] != 0x8b) {
      if (members_ == 0)
        return InvalidArgument("gzip: not a gzip stream (bad magic)");
      return InvalidArgument(
          "gzip: trailing garbage after member " + std::to_string(members_) +
          " at compressed offset " + std::to_string(in_.consumed()));
    }
    if (members_ > 0) STRATA_RETURN_IF_ERROR(inflater_->Reset());
    ++members_;
    state_ = State::kInMember;
    return Status();
  }

  std::unique_ptr<Source> raw_;
  BufferedReader in_;
  std::unique_ptr<Inflater> inflater_;
  State state_ = State::kBetweenMembers;
  uint64_t members_ = 0;  // members started so far
};

}  // namespace

GzipEngine DefaultGzipEngine() {
  return IsalInflaterAvailable() ? GzipEngine::kIsal : GzipEngine::kZlib;
}

Result<std::unique_ptr<Source>> NewGzipSource(std::unique_ptr<Source> raw,
                                              GzipEngine engine) {
  if (engine == GzipEngine::kDefault) engine = DefaultGzipEngine();
  std::unique_ptr<Inflater> inflater;
  if (engine == GzipEngine::kIsal) {
    STRATA_ASSIGN_OR_RETURN(inflater, NewIsalInflater());
  } else {
    STRATA_ASSIGN_OR_RETURN(inflater, NewZlibInflater());
  }
  return std::unique_ptr<Source>(
      std::make_unique<GzipSource>(std::move(raw), std::move(inflater)));
}

}  // namespace strata
