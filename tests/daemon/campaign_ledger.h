// The crash campaign's ledger: what the daemon acknowledged (commits and
// removes), with each commit's parent and the bytes of the file written in
// it, so verification after a crash knows exactly what must be there. Also
// the deterministic file contents (from a hash of the snapshot's key).
//
// Thread-safety: Ledger is safe for concurrent use (one mutex); the writers
// use it during a round, the main thread alone between rounds.
#ifndef STRATA_TESTS_DAEMON_CAMPAIGN_LEDGER_H_
#define STRATA_TESTS_DAEMON_CAMPAIGN_LEDGER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// FNV-1a, 64 bits: the content checksum and the seed of each key's bytes.
inline uint64_t Fnv64(std::string_view data,
                      uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// The file a snapshot `key` holds: 1 KiB to 512 KiB of pseudo-random bytes,
// all fixed by the key (splitmix64 seeded with its hash).
inline std::string ContentFor(std::string_view key) {
  uint64_t s = Fnv64(key);
  auto next = [&s] {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::string out(1024 + next() % (511 * 1024 + 1), '\0');
  for (size_t i = 0; i < out.size(); i += 8) {
    uint64_t v = next();
    for (size_t j = 0; j < 8 && i + j < out.size(); ++j) {
      out[i + j] = static_cast<char>(v >> (8 * j));
    }
  }
  return out;
}

// An acknowledged commit: snapshot `name` (committed from active `key`, whose
// file is named `key`) on `parent` ("" for none).
struct CommitRecord {
  enum class State {
    kLive,       // must be there after any crash
    kRemoving,   // a writer's Remove is in flight: never a parent again
    kUncertain,  // a Remove got no answer: may be there or not
    kRetired,    // found lost (reported once): no longer verified or used
  };
  std::string name;
  std::string key;
  std::string parent;
  uint64_t size = 0;
  uint64_t hash = 0;  // Fnv64 of the file's bytes
  int round = 0;
  int writer = 0;
  // Prepares that used it as a parent (during writing: an upper bound; at
  // rest, recounted from the ledger).
  int children = 0;
  State state = State::kLive;
};

// An acknowledged Remove: `key` must stat NotFound ever after.
struct RemoveRecord {
  std::string key;
  int round = 0;
};

class Ledger {
 public:
  using State = CommitRecord::State;

  // A random live commit to prepare on, counted as its child so no writer
  // removes it; "" (no parent) about one time in four or when none is live.
  std::string PickParent(std::mt19937_64& rng) {
    std::lock_guard<std::mutex> l(mu_);
    if (rng() % 4 == 0) return "";
    std::vector<CommitRecord*> live;
    for (auto& [name, r] : records_) {
      if (r.state == State::kLive) live.push_back(&r);
    }
    if (live.empty()) return "";
    CommitRecord* p = live[rng() % live.size()];
    p->children++;
    return p->name;
  }

  // A live commit of `writer` with no children, now kRemoving; or none.
  std::optional<std::string> TakeLeaf(int writer, std::mt19937_64& rng) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<CommitRecord*> leaves;
    for (auto& [name, r] : records_) {
      if (r.writer == writer && r.state == State::kLive && r.children == 0) {
        leaves.push_back(&r);
      }
    }
    if (leaves.empty()) return std::nullopt;
    CommitRecord* r = leaves[rng() % leaves.size()];
    r->state = State::kRemoving;
    return r->name;
  }

  void AddCommit(CommitRecord r) {
    std::lock_guard<std::mutex> l(mu_);
    std::string name = r.name;
    records_[name] = std::move(r);
  }
  // The Remove of `key` (a commit's name or an active key) was acknowledged.
  void AddRemove(const std::string& key, int round) {
    std::lock_guard<std::mutex> l(mu_);
    records_.erase(key);
    removes_.push_back({key, round});
  }
  // The Remove of a kRemoving commit failed: kLive again if the daemon said
  // why (it has children), kUncertain if nobody knows.
  void RemoveFailed(const std::string& name, bool known) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = records_.find(name);
    if (it != records_.end()) {
      it->second.state = known ? State::kLive : State::kUncertain;
    }
  }
  void SetState(const std::string& name, State s) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = records_.find(name);
    if (it != records_.end()) it->second.state = s;
  }
  // Forgets a commit whose unacknowledged Remove took effect.
  void Forget(const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    records_.erase(name);
  }

  // The record and its ancestors, self first. REQUIRES: `name` is recorded.
  // A missing ancestor ends the chain (it cannot happen while the daemon
  // refuses to remove a parent; verification then reports the short chain).
  std::vector<CommitRecord> Chain(const std::string& name) const {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<CommitRecord> out;
    for (auto it = records_.find(name); it != records_.end();
         it = it->second.parent.empty() ? records_.end()
                                        : records_.find(it->second.parent)) {
      out.push_back(it->second);
    }
    return out;
  }

  std::vector<CommitRecord> Records() const {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<CommitRecord> out;
    for (const auto& [name, r] : records_) out.push_back(r);
    return out;
  }
  std::vector<RemoveRecord> Removes() const {
    std::lock_guard<std::mutex> l(mu_);
    return removes_;
  }
  bool Has(const std::string& name) const {
    std::lock_guard<std::mutex> l(mu_);
    return records_.count(name) != 0;
  }

  // Recounts children from the records (between rounds, when the daemon
  // holds exactly the recorded snapshots).
  void RecountChildren() {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [name, r] : records_) r.children = 0;
    for (auto& [name, r] : records_) {
      auto p = records_.find(r.parent);
      if (!r.parent.empty() && p != records_.end()) p->second.children++;
    }
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, CommitRecord> records_;  // by name
  std::vector<RemoveRecord> removes_;
};

}  // namespace strata

#endif  // STRATA_TESTS_DAEMON_CAMPAIGN_LEDGER_H_
