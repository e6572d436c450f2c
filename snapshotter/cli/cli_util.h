// Small helpers shared by the `strata` subcommands' output.
//
// Thread-safety: pure functions.
#ifndef STRATA_SNAPSHOTTER_CLI_CLI_UTIL_H_
#define STRATA_SNAPSHOTTER_CLI_CLI_UTIL_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "containerd/services/snapshots/v1/snapshots.pb.h"

namespace strata {

// containerd's word for a snapshot kind on the wire (types.h's KindName).
std::string_view WireKindName(containerd::services::snapshots::v1::Kind k);

// 1536 -> "1.5 KiB"; bytes below 1 KiB as "123 B".
std::string HumanBytes(uint64_t n);

// Prints m as one line of JSON (proto field names, zero fields included;
// int64 fields are strings, as proto3's JSON mapping has them). False if it
// cannot be printed.
bool PrintJson(const google::protobuf::Message& m);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_CLI_UTIL_H_
