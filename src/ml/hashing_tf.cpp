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
  // The non-negative remainder of the signed hash; by a power of two (2^k <= 2^31) that
  // is the low k bits of its two's complement, without a division.
  if ((num_features_ & (num_features_ - 1)) == 0) return static_cast<std::int64_t>(h & static_cast<std::uint64_t>(num_features_ - 1));
  const auto signed_hash = static_cast<std::int64_t>(static_cast<std::int32_t>(h));
  const std::int64_t r = signed_hash % num_features_;
  return r < 0 ? r + num_features_ : r;
}

namespace {

/// Rows of a sparse matrix in CSR form, made one document at a time from its terms'
/// indices. Up to 2^24 features, repeats are counted in a dense table (reset after each
/// document), so only a document's distinct indices are sorted; beyond, all are sorted.
class RowBuilder {
 public:
  RowBuilder(std::int64_t num_features, bool binary)
      : binary_(binary), dense_(num_features <= (std::int64_t{1} << 24)) {
    if (dense_) count_.assign(static_cast<std::size_t>(num_features), 0);
  }

  /// Room for `entries` stored entries: address space, touched only as it is used, that
  /// saves the copies of a growing vector.
  void reserve(std::size_t entries) {
    cols_.reserve(entries);
    vals_.reserve(entries);
  }

  void term(std::int64_t index) {
    if (!dense_ || count_[static_cast<std::size_t>(index)]++ == 0) seen_.push_back(index);
  }

  /// Ends the current document's row.
  void end_document() {
    std::sort(seen_.begin(), seen_.end());
    for (std::size_t k = 0; k < seen_.size();) {
      const std::int64_t c = seen_[k];
      std::size_t e = k + 1;
      double n = 0;
      if (dense_) {
        n = count_[static_cast<std::size_t>(c)];
        count_[static_cast<std::size_t>(c)] = 0;
      } else {
        while (e < seen_.size() && seen_[e] == c) ++e;
        n = static_cast<double>(e - k);
      }
      cols_.push_back(c);
      vals_.push_back(binary_ ? 1.0 : n);
      k = e;
    }
    seen_.clear();
    row_ptr_.push_back(static_cast<std::int64_t>(cols_.size()));
  }

  Array finish(std::int64_t num_features) {
    return sparse_from_local_rows(num_features, std::move(row_ptr_), std::move(cols_), vals_);
  }

 private:
  bool binary_, dense_;
  std::vector<std::uint32_t> count_;  // per feature, within the current document (dense)
  std::vector<std::int64_t> seen_;    // the document's indices: distinct (dense) or all
  std::vector<std::int64_t> row_ptr_{0}, cols_;
  std::vector<double> vals_;
};

}  // namespace

Array HashingTF::transform(const std::vector<std::vector<std::string>>& local_documents) const {
  // Each rank makes the rows of its own documents (they follow the ranks before it):
  // a document's indices sorted, equal ones counted (or, with binary, kept once).
  RowBuilder rows(num_features_, binary_);
  for (const auto& doc : local_documents) {
    for (const std::string& term : doc) rows.term(index_of(term));
    rows.end_document();
  }
  return rows.finish(num_features_);
}

Array HashingTF::transform_texts(
    const std::vector<std::string>& local_texts,
    const std::function<void(std::string_view, const std::function<void(std::string_view)>&)>& terms) const {
  RowBuilder rows(num_features_, binary_);
  // Ample for natural text: a stored entry per 8 bytes (SpamAssassin has one per 25);
  // more simply grows the vectors.
  std::size_t bytes = 0;
  for (const std::string& text : local_texts) bytes += text.size();
  rows.reserve(bytes / 8 + local_texts.size());
  const std::function<void(std::string_view)> sink = [&](std::string_view term) { rows.term(index_of(term)); };
  for (const std::string& text : local_texts) {
    terms(text, sink);
    rows.end_document();
  }
  return rows.finish(num_features_);
}

}  // namespace spartanxx::ml
