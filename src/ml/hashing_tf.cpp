// spartanxx::ml::HashingTF, on the public API only.
#include "spartanxx/ml/hashing_tf.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "spartanxx/errors.hpp"
#include "spartanxx/sparse.hpp"

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

namespace {

/// Rows of a sparse matrix in CSR form, made one document at a time from its indices.
struct RowBuilder {
  explicit RowBuilder(bool b) : binary(b) {}
  bool binary;
  std::vector<std::int64_t> row_ptr{0}, cols;
  std::vector<double> vals;

  /// Appends the row of one document's (unsorted, repeated) indices, which it sorts.
  void add(std::vector<std::int64_t>& index) {
    std::sort(index.begin(), index.end());
    for (std::size_t k = 0; k < index.size();) {
      std::size_t e = k + 1;
      while (e < index.size() && index[e] == index[k]) ++e;
      cols.push_back(index[k]);
      vals.push_back(binary ? 1.0 : static_cast<double>(e - k));
      k = e;
    }
    row_ptr.push_back(static_cast<std::int64_t>(cols.size()));
  }

  Array finish(std::int64_t num_features) {
    return sparse_from_local_rows(num_features, std::move(row_ptr), std::move(cols), vals);
  }
};

}  // namespace

Array HashingTF::transform(const std::vector<std::vector<std::string>>& local_documents) const {
  // Each rank makes the rows of its own documents (they follow the ranks before it):
  // a document's indices sorted, equal ones counted (or, with binary, kept once).
  RowBuilder rows(binary_);
  std::vector<std::int64_t> index;
  for (const auto& doc : local_documents) {
    index.clear();
    for (const std::string& term : doc) index.push_back(index_of(term));
    rows.add(index);
  }
  return rows.finish(num_features_);
}

Array HashingTF::transform_texts(
    const std::vector<std::string>& local_texts,
    const std::function<void(std::string_view, const std::function<void(std::string_view)>&)>& terms) const {
  RowBuilder rows(binary_);
  std::vector<std::int64_t> index;
  const std::function<void(std::string_view)> sink = [&](std::string_view term) { index.push_back(index_of(term)); };
  for (const std::string& text : local_texts) {
    index.clear();
    terms(text, sink);
    rows.add(index);
  }
  return rows.finish(num_features_);
}

}  // namespace spartanxx::ml
