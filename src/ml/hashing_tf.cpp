// spartanxx::ml::HashingTF, on the public API only.
#include "spartanxx/ml/hashing_tf.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "spartanxx/errors.hpp"
#include "spartanxx/sparse.hpp"
#include "ml/rank_order.hpp"

namespace spartanxx::ml {

namespace {

constexpr std::uint32_t kC1 = 0xcc9e2d51u, kC2 = 0x1b873593u;

std::uint32_t rotl(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

std::uint32_t mix_k1(std::uint32_t k1) { return rotl(k1 * kC1, 15) * kC2; }

std::uint32_t mix_h1(std::uint32_t h1, std::uint32_t k1) { return rotl(h1 ^ k1, 13) * 5 + 0xe6546b64u; }

std::uint32_t finish(std::uint32_t h1, std::size_t bytes) {
  h1 ^= static_cast<std::uint32_t>(bytes);
  h1 ^= h1 >> 16;
  h1 *= 0x85ebca6bu;
  h1 ^= h1 >> 13;
  h1 *= 0xc2b2ae35u;
  h1 ^= h1 >> 16;
  return h1;
}

/// h1 after the whole 4-byte blocks (little-endian words, as on x86 and in Spark).
std::uint32_t blocks(const unsigned char* p, std::size_t whole, std::uint32_t seed) {
  std::uint32_t h1 = seed;
  for (std::size_t i = 0; i < whole; i += 4) {
    const std::uint32_t k = static_cast<std::uint32_t>(p[i]) | static_cast<std::uint32_t>(p[i + 1]) << 8 |
                            static_cast<std::uint32_t>(p[i + 2]) << 16 | static_cast<std::uint32_t>(p[i + 3]) << 24;
    h1 = mix_h1(h1, mix_k1(k));
  }
  return h1;
}

}  // namespace

std::uint32_t murmur3_32(const void* data, std::size_t bytes, std::uint32_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  const std::size_t whole = bytes - bytes % 4;
  std::uint32_t h1 = blocks(p, whole, seed);
  std::uint32_t k1 = 0;
  switch (bytes % 4) {
    case 3: k1 ^= static_cast<std::uint32_t>(p[whole + 2]) << 16; [[fallthrough]];
    case 2: k1 ^= static_cast<std::uint32_t>(p[whole + 1]) << 8; [[fallthrough]];
    case 1:
      k1 ^= p[whole];
      h1 ^= mix_k1(k1);
  }
  return finish(h1, bytes);
}

std::uint32_t murmur3_32_spark_legacy(const void* data, std::size_t bytes, std::uint32_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  const std::size_t whole = bytes - bytes % 4;
  std::uint32_t h1 = blocks(p, whole, seed);
  for (std::size_t i = whole; i < bytes; ++i) {
    // Java's byte is signed: the int it widens to is sign-extended.
    const auto widened = static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<signed char>(p[i])));
    h1 = mix_h1(h1, mix_k1(widened));
  }
  return finish(h1, bytes);
}

HashingTF::HashingTF(std::int64_t num_features, HashVariant variant, bool binary)
    : num_features_(num_features), variant_(variant), binary_(binary) {
  if (num_features < 1 || num_features > (std::int64_t{1} << 31))
    throw value_error(fmt::format("HashingTF: numFeatures must be in [1, 2^31], got {}", num_features));
}

std::int64_t HashingTF::index_of(std::string_view term) const {
  constexpr std::uint32_t kSeed = 42;
  const std::uint32_t h = variant_ == HashVariant::mllib ? murmur3_32_spark_legacy(term.data(), term.size(), kSeed)
                                                         : murmur3_32(term.data(), term.size(), kSeed);
  const auto signed_hash = static_cast<std::int64_t>(static_cast<std::int32_t>(h));
  const std::int64_t r = signed_hash % num_features_;
  return r < 0 ? r + num_features_ : r;
}

Array HashingTF::transform(const std::vector<std::vector<std::string>>& local_documents) const {
  // Rows of this rank's documents: after those of the ranks before it.
  std::int64_t mine = static_cast<std::int64_t>(local_documents.size()), total = 0;
  const std::int64_t first = detail::count_before(mine);
  MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  std::vector<std::int64_t> rows, cols;
  std::vector<double> vals;
  std::vector<std::int64_t> seen;
  for (std::size_t d = 0; d < local_documents.size(); ++d) {
    const std::int64_t row = first + static_cast<std::int64_t>(d);
    if (binary_) {
      seen.clear();
      for (const std::string& term : local_documents[d]) seen.push_back(index_of(term));
      std::sort(seen.begin(), seen.end());
      seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
      for (std::int64_t c : seen) rows.push_back(row), cols.push_back(c), vals.push_back(1.0);
      continue;
    }
    // Counts: repeated (row, index) triplets are summed when the matrix is made.
    for (const std::string& term : local_documents[d]) rows.push_back(row), cols.push_back(index_of(term)), vals.push_back(1.0);
  }
  return sparse_from_triplets({total, num_features_}, rows, cols, vals);
}

}  // namespace spartanxx::ml
