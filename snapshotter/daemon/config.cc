#include "snapshotter/daemon/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <exception>
#include <optional>
#include <sstream>

// Debian's libtomlplusplus is built with exceptions: toml::parse throws
// toml::parse_error. Nothing escapes ParseConfig; see the catch there.
#include <toml++/toml.h>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "snapshotter/engine/engine.h"

namespace strata {
namespace {

// One setting: its config key, its flag, and how a string value applies.
// Flags and the file share these, so they validate alike.
struct Key {
  std::string_view name;
  std::string_view flag;
  Status (*set)(Config&, std::string_view);
  std::string (*get)(const Config&);
};

Status SetRootKey(Config& c, std::string_view v) {
  if (v.empty() || v[0] != '/')
    return InvalidArgument("must be an absolute path");
  while (v.size() > 1 && v.back() == '/') v.remove_suffix(1);
  // The engine would refuse it at Open; refusing it here keeps the daemon
  // from creating the root and its lock file first.
  STRATA_RETURN_IF_ERROR(CheckRootPath(std::string(v)));
  c.root = v;
  return Status::Ok();
}

Status SetAddressKey(Config& c, std::string_view v) {
  if (v.empty()) return InvalidArgument("must be a unix socket path");
  c.address = v;
  return Status::Ok();
}

Status SetContainerdAddressKey(Config& c, std::string_view v) {
  if (!v.empty() && v[0] != '/') {
    return InvalidArgument("must be an absolute unix socket path, or empty");
  }
  c.containerd_address = v;
  return Status::Ok();
}

Status SetLogLevelKey(Config& c, std::string_view v) {
  if (!ParseLogLevel(v, c.log_level)) {
    return InvalidArgument("bad value \"" + std::string(v) +
                           "\" (debug|info|warn|error)");
  }
  return Status::Ok();
}

Status SetBackendKey(Config& c, std::string_view v) {
  if (v != "auto" && v != "overlay" && v != "reflink" && v != "copy") {
    return InvalidArgument("bad value \"" + std::string(v) +
                           "\" (auto|overlay|reflink|copy)");
  }
  c.backend = v;
  return Status::Ok();
}

Status ParseOnOff(std::string_view v, bool* out) {
  if (v != "on" && v != "off")
    return InvalidArgument("bad value \"" + std::string(v.substr(0, 32)) +
                           "\" (on|off)");
  *out = v == "on";
  return Status::Ok();
}

Status SetOverlayMetacopyKey(Config& c, std::string_view v) {
  return ParseOnOff(v, &c.overlay_metacopy);
}

Status SetRemapIdsKey(Config& c, std::string_view v) {
  return ParseOnOff(v, &c.remap_ids);
}

Status SetCommitSyncKey(Config& c, std::string_view v) {
  return ParseOnOff(v, &c.commit_sync);
}

Status SetContentSharingKey(Config& c, std::string_view v) {
  if (v != "auto" && v != "off" && v != "hardlinks")
    return InvalidArgument("bad value \"" + std::string(v.substr(0, 32)) +
                           "\" (auto|off|hardlinks)");
  c.content_sharing = v != "off";
  c.hardlink_sharing = v == "hardlinks";
  return Status::Ok();
}

Status SetMaxConcurrentAppliesKey(Config& c, std::string_view v) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0 || n > 1024) {
    return InvalidArgument("bad value \"" + std::string(v.substr(0, 32)) +
                           "\" (0 for twice the CPUs, or 1 to 1024)");
  }
  c.max_concurrent_applies = n;
  return Status::Ok();
}

Status SetMaxLayerDepthKey(Config& c, std::string_view v) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
    return InvalidArgument(
        "bad value \"" + std::string(v.substr(0, 32)) +
        "\" (0 for the backend's limit, or a number of levels)");
  }
  c.max_layer_depth = n;
  return Status::Ok();
}

Status SetQuotaKey(Config& c, std::string_view v) {
  if (v != "auto" && v != "on" && v != "off")
    return InvalidArgument("bad value \"" + std::string(v.substr(0, 32)) +
                           "\" (auto|on|off)");
  c.quota = v;
  return Status::Ok();
}

Status SetDefaultMaxSizeKey(Config& c, std::string_view v) {
  std::string_view digits = v;
  int shift = 0;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        break;
    }
    if (shift != 0) digits.remove_suffix(1);
  }
  int64_t n = 0;
  auto [p, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size() || n < 0 ||
      n > (int64_t{1} << (62 - shift))) {
    return InvalidArgument("bad value \"" + std::string(v.substr(0, 32)) +
                           "\" (bytes, or a number with K, M, G or T; 0 for "
                           "none)");
  }
  c.default_max_size = n << shift;
  return Status::Ok();
}

Status SetQuotaProjectBaseKey(Config& c, std::string_view v) {
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n == 0 ||
      n == 0xffffffffu) {
    return InvalidArgument("bad value \"" + std::string(v.substr(0, 32)) +
                           "\" (a project ID from 1 to 4294967294)");
  }
  c.quota_project_base = n;
  return Status::Ok();
}

Status SetMetricsAddressKey(Config& c, std::string_view v) {
  if (v.size() > 512 || v.find('\0') != std::string_view::npos)
    return InvalidArgument("bad value (host:port, unix:/path or /path)");
  c.metrics_address = v;
  return Status::Ok();
}

constexpr Key kKeys[] = {
    {"root", "--root", SetRootKey, [](const Config& c) { return c.root; }},
    {"address", "--address", SetAddressKey,
     [](const Config& c) { return c.address; }},
    {"containerd_address", "--containerd-address", SetContainerdAddressKey,
     [](const Config& c) { return c.containerd_address; }},
    {"log_level", "--log-level", SetLogLevelKey,
     [](const Config& c) { return std::string(LogLevelName(c.log_level)); }},
    {"backend", "--backend", SetBackendKey,
     [](const Config& c) { return c.backend; }},
    {"overlay_metacopy", "--overlay-metacopy", SetOverlayMetacopyKey,
     [](const Config& c) {
       return std::string(c.overlay_metacopy ? "on" : "off");
     }},
    {"remap_ids", "--remap-ids", SetRemapIdsKey,
     [](const Config& c) { return std::string(c.remap_ids ? "on" : "off"); }},
    {"commit_sync", "--commit-sync", SetCommitSyncKey,
     [](const Config& c) { return std::string(c.commit_sync ? "on" : "off"); }},
    {"content_sharing", "--content-sharing", SetContentSharingKey,
     [](const Config& c) {
       return std::string(!c.content_sharing   ? "off"
                          : c.hardlink_sharing ? "hardlinks"
                                               : "auto");
     }},
    {"max_concurrent_applies", "--max-concurrent-applies",
     SetMaxConcurrentAppliesKey,
     [](const Config& c) { return std::to_string(c.max_concurrent_applies); }},
    {"max_layer_depth", "--max-layer-depth", SetMaxLayerDepthKey,
     [](const Config& c) { return std::to_string(c.max_layer_depth); }},
    {"quota", "--quota", SetQuotaKey, [](const Config& c) { return c.quota; }},
    {"default_max_size", "--default-max-size", SetDefaultMaxSizeKey,
     [](const Config& c) { return std::to_string(c.default_max_size); }},
    {"quota_project_base", "--quota-project-base", SetQuotaProjectBaseKey,
     [](const Config& c) { return std::to_string(c.quota_project_base); }},
    {"metrics_address", "--metrics-address", SetMetricsAddressKey,
     [](const Config& c) { return c.metrics_address; }},
};

const Key* FindKey(std::string_view name) {
  for (const Key& k : kKeys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string KnownKeys() {
  std::string out;
  for (const Key& k : kKeys) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

std::string Where(const std::string& source, const toml::source_region& r) {
  return source + ":" + std::to_string(r.begin.line) + ":" +
         std::to_string(r.begin.column);
}

Result<Config> ParseTable(const toml::table& table, const std::string& source) {
  Config config;
  for (const auto& [key, node] : table) {
    const Key* k = FindKey(key.str());
    if (k == nullptr) {
      return InvalidArgument(Where(source, key.source()) + ": unknown key \"" +
                             std::string(key.str()) +
                             "\" (known keys: " + KnownKeys() + ")");
    }
    std::string at =
        Where(source, node.source()) + ": key \"" + std::string(k->name) + "\"";
    // Numbers may be written bare (max_concurrent_applies = 4).
    const bool numeric =
        k->name == "max_concurrent_applies" || k->name == "max_layer_depth" ||
        k->name == "default_max_size" || k->name == "quota_project_base";
    std::string number =
        node.is_integer() ? std::to_string(node.as_integer()->get()) : "";
    const std::string* value = node.is_string() ? &node.as_string()->get()
                               : numeric && node.is_integer() ? &number
                                                              : nullptr;
    if (value == nullptr) {
      std::ostringstream type;
      type << node.type();
      return InvalidArgument(at + ": must be a string, not " + type.str());
    }
    STRATA_RETURN_IF_ERROR(k->set(config, *value).WithContext(at));
  }
  return config;
}

}  // namespace

Result<Flags> ParseFlags(const std::vector<std::string_view>& args) {
  Flags flags;
  Config scratch;  // validates flag values the way the file's are validated
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::string_view> value;  // from --name=value
    if (size_t eq = arg.find('=');
        arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto take = [&]() -> Result<std::string_view> {
      if (value) return *value;
      if (i + 1 >= args.size())
        return InvalidArgument(std::string(arg) + " needs a value");
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
    } else if (arg == "--print-config") {
      flags.print_config = true;
    } else if (arg == "--config") {
      STRATA_ASSIGN_OR_RETURN(std::string_view path, take());
      flags.config_path = path;
      flags.config_given = true;
    } else {
      const Key* key = nullptr;
      for (const Key& k : kKeys) {
        if (k.flag == arg) key = &k;
      }
      if (key == nullptr)
        return InvalidArgument("unknown argument \"" + std::string(arg) + "\"");
      STRATA_ASSIGN_OR_RETURN(std::string_view v, take());
      STRATA_RETURN_IF_ERROR(key->set(scratch, v).WithContext(arg));
      flags.settings.emplace_back(key->name, v);
    }
  }
  return flags;
}

Result<Config> ParseConfig(std::string_view toml_text,
                           const std::string& source) {
  // The boundary where toml++'s exceptions become a Status.
  try {
    toml::table table = toml::parse(toml_text, source);
    return ParseTable(table, source);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(Where(source, e.source()) + ": " +
                           std::string(e.description()));
  } catch (const std::exception& e) {
    return Internal(source + ": " + e.what());
  }
}

Result<Config> LoadConfig(const std::string& path, bool must_exist) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT && !must_exist) return Config{};
    return PosixError("config file " + path, errno);
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError("read config file " + path, errno);
    if (n == 0) break;
    text.append(buf, n);
  }
  return ParseConfig(text, path);
}

Result<Config> ResolveConfig(const Flags& flags) {
  STRATA_ASSIGN_OR_RETURN(Config config,
                          LoadConfig(flags.config_path, flags.config_given));
  for (const auto& [name, value] : flags.settings) {
    STRATA_RETURN_IF_ERROR(FindKey(name)->set(config, value));
  }
  return config;
}

std::string FormatConfig(const Config& config) {
  std::string out;
  for (const Key& k : kKeys) {
    // toml++ quotes and escapes the value as a TOML basic string ("...", as
    // in the shipped config; no literal '...' strings).
    std::ostringstream value;
    toml::value<std::string> v(k.get(config));
    value << toml::toml_formatter(v, toml::format_flags::none);
    out += std::string(k.name) + " = " + value.str() + "\n";
  }
  return out;
}

}  // namespace strata
