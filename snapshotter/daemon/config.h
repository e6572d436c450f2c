// The daemon's configuration: defaults, then the TOML config file
// (/etc/strata/config.toml unless --config names another), then command-line
// flags, each overriding the one before. Every flag except --config and
// --print-config has a key of the same name (dashes become underscores).
//
// Thread-safety: plain functions over values; no shared state.
#ifndef STRATA_SNAPSHOTTER_DAEMON_CONFIG_H_
#define STRATA_SNAPSHOTTER_DAEMON_CONFIG_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/base/log.h"
#include "io/base/result.h"

namespace strata {

// CMake sets it from CMAKE_INSTALL_FULL_SYSCONFDIR, where the default config
// is installed.
#ifndef STRATA_DEFAULT_CONFIG
#define STRATA_DEFAULT_CONFIG "/etc/strata/config.toml"
#endif
inline constexpr const char* kDefaultConfigPath = STRATA_DEFAULT_CONFIG;

struct Config {
  std::string root = "/var/lib/strata";  // key root, flag --root
  std::string address =
      "/run/strata/strata.sock";         // key address, flag --address
  LogLevel log_level = LogLevel::kInfo;  // key log_level, flag --log-level
  // auto|overlay|reflink|copy (key backend, flag --backend); auto probes a
  // new root and keeps the backend recorded in an existing one.
  std::string backend = "auto";
  // containerd's own socket, where the diff service reads layer blobs
  // (Content API). Empty: no diff service. Key containerd_address, flag
  // --containerd-address.
  std::string containerd_address = "/run/containerd/containerd.sock";
  // "on": overlay mounts get metacopy=on where the kernel has it (key
  // overlay_metacopy, flag --overlay-metacopy on|off; default off).
  bool overlay_metacopy = false;
  // "on": snapshots carrying containerd's uid/gid mapping labels get
  // idmapped mounts (uidmap=/gidmap= options). Set it exactly when the
  // proxy plugin declares capabilities = ["remap-ids"]: without that
  // capability containerd makes a chowned copy and still sends the labels,
  // which must then not map again (key remap_ids, flag --remap-ids on|off;
  // default off).
  bool remap_ids = false;
  // "on" (default): Commit makes the snapshot's data durable (syncfs) before
  // answering. "off" saves that sync per Commit and risks committed layers
  // whose files read back empty after a power cut (README "Crash safety").
  // Key commit_sync, flag --commit-sync on|off.
  bool commit_sync = true;
  // "auto" (default): files of applied layers share the extents of equal
  // files already stored, where the root's filesystem can (FICLONE); "off"
  // stores every layer whole (README "Storage efficiency"); "hardlinks" is
  // auto plus, where the filesystem cannot clone (ext4) and the backend is
  // overlay, hardlinks between equal files (content and metadata) of
  // committed layers. Key content_sharing, flag --content-sharing
  // auto|off|hardlinks.
  bool content_sharing = true;
  bool hardlink_sharing = false;
  // Layers applied at once (diff service and strata import together); more
  // wait. 0: twice the CPUs. Key max_concurrent_applies, flag
  // --max-concurrent-applies.
  int max_concurrent_applies = 0;
  // Deepest directory level a layer may build; deeper entries fail the
  // Apply naming the entry. 0: the backend's limit (none for overlay, 1,000
  // for reflink/copy). Key max_layer_depth, flag --max-layer-depth.
  int max_layer_depth = 0;
  // Project quotas for active snapshots (overlay backend): Usage without a
  // walk and size limits (containerd's containerd.io/snapshot/max-size
  // label). auto (default): where the root's filesystem enforces them (XFS
  // mounted with prjquota; ext4 made with -O quota,project and mounted with
  // prjquota); on: refuse to start without; off: never (the label is then
  // refused). Key quota, flag --quota auto|on|off.
  std::string quota = "auto";
  // Size limit of every active snapshot without the label, except
  // containerd's layer unpacking (bytes, or with a K, M, G or T suffix,
  // powers of 1024; 0: none). Needs quotas. Key default_max_size, flag
  // --default-max-size.
  int64_t default_max_size = 0;
  // Project IDs used: this plus each snapshot's id (key quota_project_base,
  // flag --quota-project-base; default 1073741824). Keep it clear of the
  // host's own projects (/etc/projid).
  uint32_t quota_project_base = 1u << 30;
  // Where Prometheus scrapes /metrics (daemon/metrics_http.h): host:port,
  // unix:/path or /path; empty (default): no metrics endpoint. Key
  // metrics_address, flag --metrics-address.
  std::string metrics_address;
};

// What the command line asked for.
struct Flags {
  std::string config_path = kDefaultConfigPath;
  bool config_given = false;  // --config: the file must then exist
  bool print_config = false;
  bool help = false;
  // Settings given as flags, as (config key, value) in command-line order;
  // already validated. They override the file.
  std::vector<std::pair<std::string, std::string>> settings;
};

// Parses argv[1..] (`--name value` or `--name=value`). InvalidArgument names
// the bad argument.
Result<Flags> ParseFlags(const std::vector<std::string_view>& args);

// Parses TOML text into a Config on top of the defaults. `source` names the
// file in errors, which read "<source>:<line>:<column>: ..." and name the key:
// syntax errors, unknown keys, wrong types and bad values are InvalidArgument.
Result<Config> ParseConfig(std::string_view toml, const std::string& source);

// Reads and parses `path`. A missing file yields the defaults unless
// `must_exist`, when it is NotFound.
Result<Config> LoadConfig(const std::string& path, bool must_exist);

// The effective configuration: LoadConfig(flags.config_path) with the flags
// applied on top, validated (root absolute, address non-empty).
Result<Config> ResolveConfig(const Flags& flags);

// `config` as TOML that ParseConfig accepts.
std::string FormatConfig(const Config& config);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_DAEMON_CONFIG_H_
