// Metadata-store and engine micro benchmarks (Google Benchmark):
//   BM_CreateSnapshot/sync:{0,1}  one LMDB write txn creating a record
//   BM_ConcurrentCreate/group:{1,64}/threads:{1,16}
//                                 durable creates from many threads, without
//                                 and with group commit (items/s is the rate)
//   BM_StatSnapshot               one read txn: key lookup + parent key
//   BM_ListFilter                 a filtered walk over 10,000 records
//   BM_FilterParse                containerd's unpacker filter string
//   BM_EnginePrepare/sync:{0,1}   a whole Prepare: staging dirs, txn, rename
// Run: build/bin/meta_bench --benchmark_repetitions=5
// --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>

#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/filter.h"
#include "snapshotter/meta/snapshot_store.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

std::unique_ptr<MetaStore> OpenStore(const TempDir& dir, bool sync) {
  auto s =
      MetaStore::Open(dir.path(), {.map_size = size_t{1} << 30, .sync = sync});
  if (!s.ok()) std::abort();
  return std::move(*s);
}

void BM_CreateSnapshot(benchmark::State& state) {
  TempDir dir;
  auto store = OpenStore(dir, state.range(0) != 0);
  int64_t i = 0;
  for (auto _ : state) {
    std::string key =
        "default/1/extract-" + std::to_string(i++) + " sha256:0123456789abcdef";
    Status s = store->Update([&](WriteTxn& t) {
      return CreateSnapshot(t, Kind::kActive, key, "",
                            {{"containerd.io/snapshot.ref", key}}, i)
          .status();
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateSnapshot)->ArgName("sync")->Arg(0)->Arg(1)->UseRealTime();

// Shared by the threads of one BM_ConcurrentCreate run.
TempDir* g_concurrent_dir = nullptr;
MetaStore* g_concurrent_store = nullptr;

void BM_ConcurrentCreate(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_concurrent_dir = new TempDir();
    auto s =
        MetaStore::Open(g_concurrent_dir->path(),
                        {.map_size = size_t{1} << 30,
                         .sync = true,
                         .max_group = static_cast<size_t>(state.range(0))});
    if (!s.ok()) std::abort();
    g_concurrent_store = s->release();
  }
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = "default/1/extract-" +
                      std::to_string(state.thread_index()) + "-" +
                      std::to_string(i++);
    Status s = g_concurrent_store->Update([&](WriteTxn& t) {
      return CreateSnapshot(t, Kind::kActive, key, "", {}, i).status();
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete g_concurrent_store;
    delete g_concurrent_dir;
  }
}
BENCHMARK(BM_ConcurrentCreate)
    ->ArgName("group")
    ->Arg(1)
    ->Arg(64)
    ->Threads(1)
    ->Threads(16)
    ->UseRealTime();

void BM_StatSnapshot(benchmark::State& state) {
  TempDir dir;
  auto store = OpenStore(dir, false);
  const int n = 10000;
  (void)store->Update([&](WriteTxn& t) -> Status {
    std::string parent;
    for (int i = 0; i < n; ++i) {
      std::string key = "default/1/sha256:" + std::to_string(i);
      STRATA_ASSIGN_OR_RETURN(auto r,
                              CreateSnapshot(t, Kind::kActive, key, "", {}, i));
      (void)r;
    }
    return Status::Ok();
  });
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = "default/1/sha256:" + std::to_string(i++ % n);
    Status s = store->View([&](ReadTxn& t) -> Status {
      STRATA_ASSIGN_OR_RETURN(auto r, GetSnapshot(t, key));
      STRATA_ASSIGN_OR_RETURN(auto info, ToInfo(t, r));
      benchmark::DoNotOptimize(info);
      return Status::Ok();
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StatSnapshot);

void BM_ListFilter(benchmark::State& state) {
  TempDir dir;
  auto store = OpenStore(dir, false);
  const int n = 10000;
  (void)store->Update([&](WriteTxn& t) -> Status {
    for (int i = 0; i < n; ++i) {
      std::string key = "default/1/sha256:" + std::to_string(i);
      STRATA_ASSIGN_OR_RETURN(auto r,
                              CreateSnapshot(t, Kind::kActive, key, "",
                                             {{"containerd.io/snapshot.ref",
                                               "sha256:" + std::to_string(i)}},
                                             i));
      (void)r;
    }
    return Status::Ok();
  });
  auto filter = Filter::Parse(
      {"labels.\"containerd.io/snapshot.ref\"==sha256:4242,kind==active"});
  for (auto _ : state) {
    int matched = 0;
    Status s = store->View([&](ReadTxn& t) {
      return WalkSnapshots(t, [&](const SnapshotRecord& r) {
        auto info = ToInfo(t, r);
        matched += info.ok() && filter->Matches(*info);
        return true;
      });
    });
    if (!s.ok() || matched != 1) state.SkipWithError("walk failed");
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ListFilter)->Unit(benchmark::kMillisecond);

void BM_FilterParse(benchmark::State& state) {
  const std::vector<std::string> f = {
      "labels.\"containerd.io/"
      "snapshot.ref\"==sha256:0123456789abcdef,parent==\"default/1/x\""};
  for (auto _ : state) benchmark::DoNotOptimize(Filter::Parse(f));
}
BENCHMARK(BM_FilterParse);

void BM_EnginePrepare(benchmark::State& state) {
  TempDir dir;
  auto engine =
      Engine::Open({.root = dir / "root", .sync = state.range(0) != 0});
  if (!engine.ok()) {
    state.SkipWithError(engine.status().ToString().c_str());
    return;
  }
  int64_t i = 0;
  for (auto _ : state) {
    auto m = (*engine)->Prepare("k" + std::to_string(i++), "", {});
    if (!m.ok()) state.SkipWithError(m.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnginePrepare)->ArgName("sync")->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace strata

BENCHMARK_MAIN();
