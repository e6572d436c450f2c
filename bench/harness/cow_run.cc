#include "bench/harness/cow_run.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>

#include "bench/harness/cow_ops.h"
#include "io/base/errno.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double Us(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

}  // namespace

Status CowRunner::MakeLayer(
    const std::string& name, const std::string& parent,
    const std::function<Status(const std::string&)>& fill) {
  std::string key = name + "-active";
  STRATA_ASSIGN_OR_RETURN(SnapshotMounts mounts, client_.Prepare(key, parent));
  auto dir = WritableDir(mounts);
  if (!dir.ok()) return dir.status().WithContext("snapshot \"" + key + "\"");
  STRATA_RETURN_IF_ERROR(fill(*dir).WithContext("snapshot \"" + key + "\""));
  STRATA_ASSIGN_OR_RETURN(int64_t used, SyncedUsedBytes(fs_dir_));
  (void)used;
  return client_.Commit(name, key);
}

Status CowRunner::FirstOps(const std::string& config,
                           std::vector<CowCell>& cells,
                           std::vector<PrepareCell>& prepares) {
  for (uint64_t size : opts_.sizes) {
    std::string sz = std::to_string(size);
    std::string base = "cow/base-" + sz;
    STRATA_RETURN_IF_ERROR(
        progress_("parent with one " + SizeName(size) + " file"));
    STRATA_RETURN_IF_ERROR(MakeLayer(base, "", [&](const std::string& dir) {
      return WriteRandomFile(dir + "/file", size, size);
    }));
    PrepareCell prep{config, "one " + SizeName(size) + " file", 1, size, {},
                     {}};
    std::vector<CowCell> row;
    for (CowOp op : kAllCowOps)
      row.push_back({config, size, std::string(CowOpName(op)), {}, {}, {}});
    for (int rep = 0; rep < opts_.reps; ++rep) {
      for (size_t i = 0; i < row.size(); ++i) {
        CowOp op = kAllCowOps[i];
        STRATA_RETURN_IF_ERROR(progress_(SizeName(size) + " " + row[i].op +
                                         " rep " + std::to_string(rep + 1) +
                                         "/" + std::to_string(opts_.reps)));
        std::string key =
            "cow/" + sz + "/" + row[i].op + "/" + std::to_string(rep);
        STRATA_ASSIGN_OR_RETURN(SnapshotMounts mounts,
                                TimedPrepare(key, base, prep));
        STRATA_ASSIGN_OR_RETURN(int64_t used1, SyncedUsedBytes(fs_dir_));
        auto mounted = ScopedMount::Take(mounts, mnt_);
        if (!mounted.ok())
          return mounted.status().WithContext("snapshot \"" + key + "\"");
        std::string path = mnt_ + "/file";
        EvictFromCache(path);
        STRATA_ASSIGN_OR_RETURN(double op_us, TimeCowOp(op, path, size));
        auto t1 = Clock::now();
        STRATA_ASSIGN_OR_RETURN(int64_t used2, SyncedUsedBytes(fs_dir_));
        row[i].sync_us.push_back(Us(t1));
        row[i].op_us.push_back(op_us);
        row[i].bytes.push_back(used2 - used1);
        STRATA_RETURN_IF_ERROR(mounted->Release());
        STRATA_RETURN_IF_ERROR(client_.Remove(key));
      }
    }
    cells.insert(cells.end(), row.begin(), row.end());
    prepares.push_back(std::move(prep));
  }
  return Status::Ok();
}

Status CowRunner::Images(const std::string& config,
                         std::vector<PrepareCell>& prepares) {
  constexpr int kLayers = 4;
  constexpr uint64_t kFileBytes = 4096;
  for (uint64_t files : opts_.images) {
    std::string n = std::to_string(files);
    std::string parent;
    for (int l = 0; l < kLayers; ++l) {
      STRATA_RETURN_IF_ERROR(progress_("image of " + n + " files: layer " +
                                       std::to_string(l + 1) + "/" +
                                       std::to_string(kLayers)));
      uint64_t first = files * l / kLayers, last = files * (l + 1) / kLayers;
      std::string name = "img/" + n + "/layer-" + std::to_string(l);
      STRATA_RETURN_IF_ERROR(
          MakeLayer(name, parent, [&](const std::string& dir) -> Status {
            std::string top = dir + "/l" + std::to_string(l);
            if (mkdir(top.c_str(), 0755) != 0)
              return PosixError("mkdir " + top, errno);
            for (uint64_t f = first; f < last; ++f) {
              std::string sub = top + "/d" + std::to_string(f / 100);
              if (f == first || f % 100 == 0) {
                if (mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) {
                  return PosixError("mkdir " + sub, errno);
                }
              }
              STRATA_RETURN_IF_ERROR(WriteRandomFile(
                  sub + "/f" + std::to_string(f), kFileBytes, f + 1));
            }
            return Status::Ok();
          }));
      parent = name;
    }
    PrepareCell prep{
        config, "image of " + n + " files", files, files * kFileBytes, {}, {}};
    for (int rep = 0; rep < opts_.reps; ++rep) {
      STRATA_RETURN_IF_ERROR(progress_(
          "image of " + n + " files: Prepare rep " + std::to_string(rep + 1) +
          "/" + std::to_string(opts_.reps)));
      std::string key = "img/" + n + "/child-" + std::to_string(rep);
      STRATA_RETURN_IF_ERROR(TimedPrepare(key, parent, prep).status());
      STRATA_RETURN_IF_ERROR(client_.Remove(key));
    }
    prepares.push_back(std::move(prep));
    // Free the space before the next image (the copy backend holds a full
    // copy per layer).
    for (int l = kLayers - 1; l >= 0; --l) {
      STRATA_RETURN_IF_ERROR(
          client_.Remove("img/" + n + "/layer-" + std::to_string(l)));
    }
  }
  return Status::Ok();
}

Result<SnapshotMounts> CowRunner::TimedPrepare(const std::string& key,
                                               const std::string& parent,
                                               PrepareCell& prep) {
  STRATA_ASSIGN_OR_RETURN(int64_t used0, SyncedUsedBytes(fs_dir_));
  auto t0 = Clock::now();
  STRATA_ASSIGN_OR_RETURN(SnapshotMounts mounts, client_.Prepare(key, parent));
  prep.us.push_back(Us(t0));
  STRATA_ASSIGN_OR_RETURN(int64_t used1, SyncedUsedBytes(fs_dir_));
  prep.bytes.push_back(used1 - used0);
  return mounts;
}

Result<SuiteRun> CowRunner::Benchsuite(const std::string& server,
                                       const std::string& fs, int rep) {
  SuiteRun run{server, fs, "", rep, {}, {}, {}, 0, 0};
  std::string prefix = "bench/" + std::to_string(rep) + "/";
  std::vector<std::string> made;
  STRATA_ASSIGN_OR_RETURN(int64_t used0, SyncedUsedBytes(fs_dir_));
  std::string parent;
  auto start = Clock::now();
  for (int l = 1; l <= opts_.layers; ++l) {
    STRATA_RETURN_IF_ERROR(
        progress_("benchsuite rep " + std::to_string(rep + 1) + " layer " +
                  std::to_string(l) + "/" + std::to_string(opts_.layers)));
    std::string key = prefix + "prepare-layer-" + std::to_string(l);
    auto t0 = Clock::now();
    STRATA_ASSIGN_OR_RETURN(SnapshotMounts mounts,
                            client_.Prepare(key, parent));
    run.prepare_us.push_back(Us(t0));
    auto t1 = Clock::now();
    {
      auto mounted = ScopedMount::Take(mounts, mnt_);
      if (!mounted.ok())
        return mounted.status().WithContext("snapshot \"" + key + "\"");
      STRATA_RETURN_IF_ERROR(
          ApplyBenchsuiteLayer(mnt_, l, opts_.suite_file_bytes, l * 100)
              .WithContext("snapshot \"" + key + "\""));
      STRATA_RETURN_IF_ERROR(mounted->Release());
    }
    run.write_us.push_back(Us(t1));
    std::string name = prefix + "committed-" + std::to_string(l);
    auto t2 = Clock::now();
    STRATA_RETURN_IF_ERROR(client_.Commit(name, key));
    run.commit_us.push_back(Us(t2));
    made.push_back(name);
    parent = name;
  }
  run.total_us = Us(start);
  STRATA_ASSIGN_OR_RETURN(int64_t used1, SyncedUsedBytes(fs_dir_));
  run.bytes = used1 - used0;
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    STRATA_RETURN_IF_ERROR(client_.Remove(*it));
  }
  return run;
}

}  // namespace strata
