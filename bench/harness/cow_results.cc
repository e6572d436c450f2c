#include "bench/harness/cow_results.h"

#include <cctype>
#include <cstdlib>

#include "bench/harness/cow_ops.h"
#include "bench/harness/json.h"

namespace strata {

std::string SizeName(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && b >= 1024 && b % 1024 == 0) {
    b /= 1024;
    ++u;
  }
  return std::to_string(b) + " " + units[u];
}

uint64_t ParseSize(const std::string& s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return 0;
  char* end = nullptr;
  uint64_t v = std::strtoull(s.c_str(), &end, 10);
  std::string unit(end);
  if (unit.empty() || unit == "B") return v;
  if (unit == "K" || unit == "KiB") return v << 10;
  if (unit == "M" || unit == "MiB") return v << 20;
  if (unit == "G" || unit == "GiB") return v << 30;
  return 0;
}

namespace {

using json::Arr;
using json::Num;
using json::Obj;
using json::Str;

std::string Strs(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(Str(s));
  return Arr(out);
}

template <typename T>
std::string Nums(const std::vector<T>& v, double scale = 1) {
  std::vector<std::string> out;
  for (T x : v) out.push_back(Num(static_cast<double>(x) * scale));
  return Arr(out);
}

const CowCell* FindCell(const CowResults& r, const std::string& config,
                        uint64_t size, std::string_view op) {
  for (const auto& c : r.cells) {
    if (c.config == config && c.size == size && c.op == op) return &c;
  }
  return nullptr;
}

std::vector<std::string> OpNames() {
  std::vector<std::string> ops;
  for (CowOp op : kAllCowOps) ops.emplace_back(CowOpName(op));
  return ops;
}

// One row per (config, size), one column per op: field(cell) of each.
template <typename F>
std::string CellTable(const CowResults& r, const std::string& title, F field,
                      const std::vector<std::string>& notes) {
  std::vector<std::string> cols{"config", "file"};
  for (const auto& op : OpNames()) cols.push_back(op);
  std::vector<std::string> rows;
  for (const auto& cfg : r.configs) {
    for (uint64_t size : r.sizes) {
      std::vector<std::string> row{Str(cfg), Str(SizeName(size))};
      for (const auto& op : OpNames()) {
        const CowCell* c = FindCell(r, cfg, size, op);
        row.push_back(c ? Num(field(*c)) : "null");
      }
      rows.push_back(Arr(row));
    }
  }
  return Obj({{"title", Str(title)},
              {"columns", Strs(cols)},
              {"rows", Arr(rows)},
              {"notes", Strs(notes)}});
}

std::string PrepareTable(const CowResults& r) {
  std::vector<std::string> rows;
  for (const auto& p : r.prepares) {
    rows.push_back(
        Arr({Str(p.config), Str(p.parent), Num(static_cast<double>(p.files)),
             Num(Median(p.us) / 1000), Num(Median(p.bytes) / 1024),
             Num(static_cast<double>(p.us.size()))}));
  }
  return Obj(
      {{"title", Str("Prepare of a child snapshot")},
       {"columns", Strs({"config", "parent", "files", "Prepare ms (median)",
                         "KiB consumed (median)", "samples"})},
       {"rows", Arr(rows)},
       {"notes",
        Strs(
            {"Overlay's Prepare makes two empty directories whatever the "
             "image; the "
             "full-tree backends (reflink, copy) clone or copy the parent's "
             "whole tree, "
             "so they pay per file (reflink) and per byte (copy) here, and "
             "nothing at "
             "the first write.",
             "Images are chains of 4 layers with the files spread evenly (4 "
             "KiB each, "
             "100 per directory); the child is prepared on the top layer."})}});
}

// The reps of one server on one filesystem, in run order.
struct SuiteGroup {
  std::string config, server, fs;
  std::vector<const SuiteRun*> runs;
};

std::vector<SuiteGroup> GroupSuites(const CowResults& r) {
  std::vector<SuiteGroup> groups;
  for (const auto& s : r.suites) {
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const SuiteGroup& g) {
          return g.config == s.config && g.server == s.server;
        });
    if (it == groups.end()) {
      groups.push_back({s.config, s.server, s.fs, {}});
      it = groups.end() - 1;
    }
    it->runs.push_back(&s);
  }
  return groups;
}

double MedianTotal(const SuiteGroup& g) {
  std::vector<double> t;
  for (const SuiteRun* s : g.runs) t.push_back(s->total_us);
  return Median(t);
}

// Median over the reps of total(Strata) / total(peer) on the same fs, paired
// by rep (they ran back to back); NaN without a peer.
double PeerRatio(const SuiteGroup& g, const std::vector<SuiteGroup>& groups) {
  for (const auto& p : groups) {
    if (p.config != g.config || p.server.rfind("peer", 0) != 0 || &p == &g) {
      continue;
    }
    std::vector<double> ratios;
    for (const SuiteRun* s : g.runs) {
      for (const SuiteRun* q : p.runs) {
        if (q->rep == s->rep && q->total_us > 0) {
          ratios.push_back(s->total_us / q->total_us);
        }
      }
    }
    return Median(ratios);
  }
  return 0.0 / 0.0;
}

std::string SuiteTable(const CowResults& r) {
  std::vector<std::string> rows;
  auto groups = GroupSuites(r);
  for (const auto& g : groups) {
    std::vector<double> layer, prep, write, commit, bytes;
    for (const SuiteRun* s : g.runs) {
      double p = 0, w = 0, c = 0;
      for (size_t i = 0; i < s->prepare_us.size(); ++i) {
        layer.push_back(s->prepare_us[i] + s->write_us[i] + s->commit_us[i]);
        p += s->prepare_us[i];
        w += s->write_us[i];
        c += s->commit_us[i];
      }
      prep.push_back(p);
      write.push_back(w);
      commit.push_back(c);
      bytes.push_back(static_cast<double>(s->bytes));
    }
    rows.push_back(
        Arr({Str(g.config), Str(g.server), Num(MedianTotal(g) / 1e6),
             Num(PeerRatio(g, groups)), Num(Median(layer) / 1000),
             Num(Median(prep) / 1000), Num(Median(write) / 1000),
             Num(Median(commit) / 1000), Num(Median(bytes) / (1 << 20)),
             Num(static_cast<double>(g.runs.size()))}));
  }
  return Obj(
      {{"title", Str("containerd snapshots/benchsuite workload")},
       {"columns",
        Strs({"filesystem of", "server", "total s", "total / peer's",
              "layer ms", "Prepare ms (sum)", "mount+write+unmount ms (sum)",
              "Commit ms (sum)", "MiB consumed", "reps"})},
       {"rows", Arr(rows)},
       {"notes",
        Strs({"16 layers, each Prepare -> mount -> write -> unmount -> Commit "
              "on the previous: create 1 MiB random files among /a../j, update "
              "4 bytes in the middle of others, remove others (benchmark.go's "
              "makeApplier). No sync, as in containerd's suite; MiB consumed "
              "is the statfs delta after a final syncfs.",
              "Medians over the reps; layer ms is the median layer of all "
              "reps. Strata and the peer alternate rep by rep on the same "
              "loop filesystem (the configuration's); total / peer's is the "
              "median of the per-rep "
              "ratios (< 1: Strata faster).",
              "peer = strata-peer (bench/peer): containerd 1.6's own overlayfs "
              "snapshotter over the same gRPC API, on the same loop "
              "filesystem."})}});
}

std::string Plots(const CowResults& r) {
  std::vector<std::string> plots;
  // First 4-byte write by size, one series per config.
  {
    std::vector<std::string> cats, series;
    for (uint64_t size : r.sizes) cats.push_back(SizeName(size));
    for (const auto& cfg : r.configs) {
      std::vector<double> v;
      for (uint64_t size : r.sizes) {
        const CowCell* c = FindCell(r, cfg, size, "write-mid");
        v.push_back(c ? Median(c->op_us) / 1000 : 0.0 / 0.0);
      }
      series.push_back(Obj({{"name", Str(cfg)}, {"values", Nums(v)}}));
    }
    plots.push_back(
        Obj({{"file", Str("cow_first_write.png")},
             {"title", Str("First 4-byte write into a lower file (median)")},
             {"ylabel", Str("ms (log)")},
             {"logy", "true"},
             {"categories", Strs(cats)},
             {"series", Arr(series)}}));
  }
  // Every op at the largest size.
  if (!r.sizes.empty()) {
    uint64_t size = r.sizes.back();
    std::vector<std::string> series;
    for (const auto& cfg : r.configs) {
      std::vector<double> v;
      for (const auto& op : OpNames()) {
        const CowCell* c = FindCell(r, cfg, size, op);
        v.push_back(c ? Median(c->op_us) / 1000 : 0.0 / 0.0);
      }
      series.push_back(Obj({{"name", Str(cfg)}, {"values", Nums(v)}}));
    }
    plots.push_back(
        Obj({{"file", Str("cow_ops.png")},
             {"title", Str("First operation on a " + SizeName(size) +
                           " lower file (median)")},
             {"ylabel", Str("ms (log)")},
             {"logy", "true"},
             {"categories", Strs(OpNames())},
             {"series", Arr(series)}}));
  }
  // Prepare on the N-file images.
  {
    std::vector<std::string> cats;
    for (const auto& p : r.prepares) {
      if (p.parent.rfind("image", 0) == 0 &&
          std::find(cats.begin(), cats.end(), p.parent) == cats.end()) {
        cats.push_back(p.parent);
      }
    }
    std::vector<std::string> series;
    for (const auto& cfg : r.configs) {
      std::vector<double> v;
      for (const auto& cat : cats) {
        double x = 0.0 / 0.0;
        for (const auto& p : r.prepares) {
          if (p.config == cfg && p.parent == cat) x = Median(p.us) / 1000;
        }
        v.push_back(x);
      }
      series.push_back(Obj({{"name", Str(cfg)}, {"values", Nums(v)}}));
    }
    if (!cats.empty()) {
      plots.push_back(
          Obj({{"file", Str("cow_prepare.png")},
               {"title", Str("Prepare of a child of an image (median)")},
               {"ylabel", Str("ms (log)")},
               {"logy", "true"},
               {"categories", Strs(cats)},
               {"series", Arr(series)}}));
    }
  }
  if (!r.suites.empty()) {
    std::vector<std::string> cats;
    std::vector<double> v;
    for (const auto& g : GroupSuites(r)) {
      cats.push_back(g.config + ": " + g.server);
      v.push_back(MedianTotal(g) / 1e6);
    }
    plots.push_back(
        Obj({{"file", Str("cow_benchsuite.png")},
             {"title", Str("containerd benchsuite: 16 layers, total (median)")},
             {"ylabel", Str("s")},
             {"categories", Strs(cats)},
             {"series",
              Arr({Obj({{"name", Str("total")}, {"values", Nums(v)}})})}}));
  }
  return Arr(plots);
}

std::string Raw(const CowResults& r) {
  std::vector<std::string> cells, prepares, suites;
  for (const auto& c : r.cells) {
    cells.push_back(Obj({{"config", Str(c.config)},
                         {"size", Num(static_cast<double>(c.size))},
                         {"op", Str(c.op)},
                         {"op_us", Nums(c.op_us)},
                         {"sync_us", Nums(c.sync_us)},
                         {"bytes", Nums(c.bytes)}}));
  }
  for (const auto& p : r.prepares) {
    prepares.push_back(
        Obj({{"config", Str(p.config)},
             {"parent", Str(p.parent)},
             {"files", Num(static_cast<double>(p.files))},
             {"parent_bytes", Num(static_cast<double>(p.parent_bytes))},
             {"us", Nums(p.us)},
             {"bytes", Nums(p.bytes)}}));
  }
  for (const auto& s : r.suites) {
    suites.push_back(Obj({{"server", Str(s.server)},
                          {"fs", Str(s.fs)},
                          {"config", Str(s.config)},
                          {"rep", Num(s.rep)},
                          {"prepare_us", Nums(s.prepare_us)},
                          {"write_us", Nums(s.write_us)},
                          {"commit_us", Nums(s.commit_us)},
                          {"total_us", Num(s.total_us)},
                          {"bytes", Num(static_cast<double>(s.bytes))}}));
  }
  return Obj({{"cells", Arr(cells)},
              {"prepares", Arr(prepares)},
              {"suites", Arr(suites)}});
}

}  // namespace

std::string CowResultsJson(const CowResults& r) {
  std::vector<std::pair<std::string, std::string>> machine;
  for (const auto& [k, v] : r.machine) machine.emplace_back(k, Str(v));
  std::string reps = std::to_string(r.reps);
  std::vector<std::string> tables{
      CellTable(r, "First operation on a lower file: median latency (ms)",
                [](const CowCell& c) { return Median(c.op_us) / 1000; },
                {"Each sample runs in a fresh child snapshot (Prepare on a "
                 "parent holding the "
                 "one file, mount, operate, unmount, Remove), median of " +
                     reps + ".",
                 "The file's pages are evicted (fadvise DONTNEED, loop device "
                 "in direct I/O) "
                 "before the operation. Timed: open+pwrite(4 B at "
                 "size/2)+close for write-mid, "
                 "open(O_APPEND)+write(4 B)+close for append, chmod, rename, "
                 "unlink; no fsync "
                 "(overlayfs fsyncs a copied-up file itself, so its copy-up is "
                 "durable)."}),
      CellTable(r,
                "Disk consumed by that operation (KiB, statfs delta after "
                "syncfs, median)",
                [](const CowCell& c) { return Median(c.bytes) / 1024; },
                {"Negative: the operation freed space (a full-tree child "
                 "deleting its own "
                 "copy). btrfs reports space in allocation chunks and its "
                 "metadata is "
                 "copy-on-write too: its deltas are approximate."}),
      CellTable(r, "syncfs right after the operation (ms, median)",
                [](const CowCell& c) { return Median(c.sync_us) / 1000; },
                {"What making the operation durable costs on top: writeback of "
                 "what it "
                 "dirtied."}),
      PrepareTable(r), SuiteTable(r)};
  return Obj({{"title", Str("strata bench cow: copy-on-write cost")},
              {"command", Str(r.command)},
              {"started", Str(r.started)},
              {"machine", Obj(machine)},
              {"notes", Strs(r.notes)},
              {"tables", Arr(tables)},
              {"plots", Plots(r)},
              {"raw", Raw(r)}}) +
         "\n";
}

}  // namespace strata
