// Identifiers that sort by creation time: a short type prefix, then a
// ULID-style body (48-bit millisecond timestamp and 80 random bits in
// Crockford base32, lower case). Within one process, ids made in the same
// millisecond still sort in creation order.
//
// Thread-safety: new_id may be called from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"

namespace cadre {

// new_id("obj") -> "obj_01jdq3v9k2c8x6f0m4r7t5w1ya"
std::string new_id(std::string_view prefix, TimeMs now);
std::string new_id(std::string_view prefix);

// The creation time encoded in an id made by new_id, or -1 if it is not one.
TimeMs id_time(std::string_view id);

}  // namespace cadre
