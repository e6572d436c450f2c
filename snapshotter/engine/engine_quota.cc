// Project quotas: the engine's side (README "Size limits and Usage"). Each
// active snapshot of the overlay backend gets project ID
// quota_project_base + id on its writable directory and overlay's work
// directory (both inherit it: overlayfs renames copied-up files from work
// into the upper, which a filesystem refuses across projects). Usage of an
// active snapshot is then one quotactl; its limit is the project's block
// limit, set at every Prepare (so an id an aborted transaction left with a
// limit starts clean) and lifted at Remove.
#include <fcntl.h>

#include <charconv>
#include <string>

#include "io/base/errno.h"
#include "io/base/log.h"
#include "snapshotter/backend/backend.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/snapshot_store.h"

namespace strata {
namespace {

// containerd's layer unpacking (snapshots.UnpackKeyFormat,
// "extract-<unique> <chainID>", behind the namespace's "<ns>/<n>/"): image
// layers, not a container's writes, so the default limit skips them.
bool IsUnpackKey(std::string_view key) {
  key = key.substr(0, key.find(' '));
  size_t slash = key.rfind('/');
  if (slash != std::string_view::npos) key = key.substr(slash + 1);
  return key.substr(0, 8) == "extract-";
}

}  // namespace

Status Engine::StartQuotas() {
  using Mode = EngineOptions::QuotaMode;
  Status why;
  if (opts_.quota == Mode::kOff) {
    why = FailedPrecondition("quota = off");
  } else if (backend_->Name() != "overlay") {
    why = FailedPrecondition(
        "the " + std::string(backend_->Name()) +
        " backend keeps a clone of the parent in every active snapshot, which "
        "a project quota would count in full (quotas need the overlay "
        "backend)");
  } else {
    auto q = ProjectQuota::Open(layout_.SnapshotsDir());
    if (q.ok()) {
      quota_ = std::move(*q);
    } else {
      why = q.status();
    }
  }
  if (quota_) {
    quota_reason_ = "on (project IDs from " +
                    std::to_string(opts_.quota_project_base) + " + id)";
    Log(LogLevel::kInfo, "engine",
        "project quotas: Usage of active snapshots without a walk, size "
        "limits enforced",
        {{"project_base", std::to_string(opts_.quota_project_base)},
         {"default_max_size", std::to_string(opts_.default_max_size)}});
    return Status::Ok();
  }
  quota_reason_ = "off: " + why.message();
  if (opts_.quota == Mode::kOn) {
    return FailedPrecondition("quota = on, but " + why.message());
  }
  if (opts_.default_max_size > 0) {
    return FailedPrecondition(
        "default_max_size needs project quotas, which are off: " +
        why.message());
  }
  return Status::Ok();
}

Result<int64_t> Engine::SizeLimitOf(std::string_view key, Kind kind,
                                    const Labels& labels) const {
  if (kind != Kind::kActive) return int64_t{0};
  int64_t limit = IsUnpackKey(key) ? 0 : opts_.default_max_size;
  auto it = labels.find(kMaxSizeLabel);
  if (it != labels.end()) {
    const std::string& v = it->second;
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n <= 0) {
      return InvalidArgument(SnapshotName(key) + ": label " + kMaxSizeLabel +
                             " must be a positive number of bytes, not \"" +
                             v.substr(0, 32) + "\"");
    }
    limit = n;
  }
  if (limit > 0 && !quota_) {
    return FailedPrecondition(
        SnapshotName(key) + " asks for a size limit (" + std::to_string(limit) +
        " bytes), but project quotas are " + quota_reason_);
  }
  return limit;
}

uint32_t Engine::ProjectOf(uint64_t id) const {
  if (!quota_) return 0;
  const uint64_t p = uint64_t{opts_.quota_project_base} + id;
  // 0xffffffff is "no ID" to the kernel.
  return p >= 0xffffffffu ? 0 : static_cast<uint32_t>(p);
}

Status Engine::TagProject(const std::string& dir, uint64_t id, int64_t limit) {
  const uint32_t project = ProjectOf(id);
  if (project == 0) {
    if (limit > 0) {
      return ResourceExhausted("no project ID is left for snapshot " +
                               std::to_string(id) + " (quota_project_base " +
                               std::to_string(opts_.quota_project_base) + ")");
    }
    return Status::Ok();
  }
  for (const char* sub : {"/fs", "/work"}) {
    UniqueFd fd(open((dir + sub).c_str(),
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return PosixError(std::string("open ") + (sub + 1), errno);
    STRATA_RETURN_IF_ERROR(
        quota_->Assign(fd.get(), project)
            .WithContext("tag project " + std::to_string(project)));
  }
  return quota_->SetLimit(project, limit);
}

std::optional<Usage> Engine::QuotaUsageOf(uint64_t id) {
  const uint32_t project = ProjectOf(id);
  if (project == 0) return std::nullopt;
  UniqueFd fd(open(layout_.FsDir(id).c_str(),
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  // Prepared before quotas were on: walked.
  auto p = quota_->InheritedProject(fd.get());
  if (!p.ok() || *p != project) return std::nullopt;
  auto u = quota_->Usage(project);
  if (!u.ok()) {
    Log(LogLevel::kWarn, "engine", "quota usage unreadable; walking instead",
        {{"id", std::to_string(id)}, {"error", u.status().ToString()}});
    return std::nullopt;
  }
  usage_from_quota_++;
  return Usage{u->bytes, u->inodes};
}

void Engine::ReleaseProject(uint64_t id) {
  const uint32_t project = ProjectOf(id);
  if (project == 0) return;
  if (Status s = quota_->SetLimit(project, 0); !s.ok()) {
    Log(LogLevel::kWarn, "engine", "lifting a removed snapshot's limit failed",
        {{"id", std::to_string(id)}, {"error", s.ToString()}});
  }
}

bool Engine::StopInheriting(int dir_fd) {
  if (!quota_) return false;
  UniqueFd fd(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd.valid() && quota_->StopInheriting(fd.get()).ok();
}

QuotaInfo Engine::Quotas() const {
  QuotaInfo q;
  q.enabled = quota_ != nullptr;
  q.reason = quota_reason_;
  q.default_max_size = opts_.default_max_size;
  q.usage_from_quota = usage_from_quota_.load();
  q.usage_walked = usage_walked_.load();
  return q;
}

}  // namespace strata
