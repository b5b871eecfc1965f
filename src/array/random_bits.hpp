#pragma once
// The counter-based generator behind every random array: 64 random bits for (seed,
// counter), the same whichever rank asks, so random arrays do not depend on the number
// of ranks.
#include <cstdint>

namespace spartanxx::detail {

inline std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::uint64_t random_bits(std::uint64_t seed, std::uint64_t counter) {
  return splitmix64(splitmix64(seed) ^ splitmix64(counter * 2 + 1));
}

/// Uniform in (0, 1]; never 0, so log() is safe.
inline double unit_open(std::uint64_t bits) { return (static_cast<double>(bits >> 11) + 1.0) * 0x1.0p-53; }

}  // namespace spartanxx::detail
