#include "core/id.h"

#include <mutex>
#include <random>

namespace cadre {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford, lower case

int decode_char(char c) {
  for (int i = 0; i < 32; ++i)
    if (kAlphabet[i] == c) return i;
  return -1;
}

struct Generator {
  std::mutex mutex;
  std::mt19937_64 rng{std::random_device{}()};
  TimeMs last_ms = -1;
  uint64_t hi = 0;  // 16 random bits
  uint64_t lo = 0;  // 64 random bits
};

Generator& generator() {
  static Generator g;
  return g;
}

}  // namespace

std::string new_id(std::string_view prefix, TimeMs now) {
  Generator& g = generator();
  uint64_t hi, lo;
  {
    std::lock_guard lock(g.mutex);
    if (now <= g.last_ms) {
      // Same (or earlier) millisecond: increment the random part so order holds.
      now = g.last_ms;
      if (++g.lo == 0) ++g.hi;
    } else {
      g.last_ms = now;
      g.hi = g.rng() & 0xffff;
      g.lo = g.rng();
    }
    hi = g.hi;
    lo = g.lo;
  }
  // 128 bits: 48 time | 16 hi | 64 lo, written as 26 base32 digits (130 bits).
  unsigned __int128 value = (static_cast<unsigned __int128>(static_cast<uint64_t>(now) & 0xffffffffffffULL) << 80) |
                            (static_cast<unsigned __int128>(hi) << 64) | lo;
  char body[26];
  for (int i = 25; i >= 0; --i) {
    body[i] = kAlphabet[static_cast<int>(value & 31)];
    value >>= 5;
  }
  std::string id(prefix);
  id += '_';
  id.append(body, 26);
  return id;
}

std::string new_id(std::string_view prefix) { return new_id(prefix, SystemClock::instance().now_ms()); }

TimeMs id_time(std::string_view id) {
  auto underscore = id.rfind('_');
  if (underscore == std::string_view::npos || id.size() - underscore - 1 != 26) return -1;
  std::string_view body = id.substr(underscore + 1);
  unsigned __int128 value = 0;
  for (char c : body) {
    int d = decode_char(c);
    if (d < 0) return -1;
    value = (value << 5) | static_cast<unsigned>(d);
  }
  return static_cast<TimeMs>(static_cast<uint64_t>(value >> 80) & 0xffffffffffffULL);
}

}  // namespace cadre
