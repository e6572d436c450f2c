#include "snapshotter/types.h"

namespace strata {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kActive:
      return "active";
    case Kind::kView:
      return "view";
    case Kind::kCommitted:
      return "committed";
    case Kind::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace strata
