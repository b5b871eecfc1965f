// libsvm / svmlight files: "label idx:val idx:val ... [# comment]". Parsed in parallel by
// byte ranges; rows are numbered by an exclusive scan of each rank's data lines.
#include <algorithm>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "array/dist_array.hpp"
#include "array/sparse.hpp"
#include "expr/boundary.hpp"
#include "io/text_reader.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/sparse.hpp"

namespace spartanxx::io {
namespace {

using detail::io::LineError;
using detail::io::quoted;

constexpr const char* kRead = "read_libsvm";

// A float64 vector whose rank r holds the counts[r] elements after those of lower ranks.
Array vector_by_rank(const std::vector<std::int64_t>& counts, std::vector<double> mine, int rank) {
  std::vector<tiling::index_t> splits{0};
  std::vector<int> owners;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    splits.push_back(splits.back() + counts[r]);
    owners.push_back(static_cast<int>(r));
  }
  const Shape shape{splits.back()};
  detail::Layout layout(shape, {splits}, owners);
  detail::DistArray data(layout, DType::f64, rank);
  for (auto& tile : data.tiles())
    if (!mine.empty()) std::copy(mine.begin(), mine.end(), tile.data.as<double>());
  return detail::leaf(std::move(data));
}

}  // namespace

LabeledData read_libsvm(const std::string& path, std::int64_t n_features, bool zero_based, NonFinite nonfinite) {
  if (n_features < 0)
    throw value_error(fmt::format("{}: {}: n_features must not be negative, got {}", kRead, path, n_features));
  auto& comm = detail::context_comm();
  std::unique_ptr<detail::io::InputFile> file;
  comm.run_agreed([&] { file = std::make_unique<detail::io::InputFile>(path, kRead); });

  const std::int64_t base = zero_based ? 0 : 1;
  std::vector<std::int64_t> rows, cols;
  std::vector<double> vals, labels;
  std::int64_t max_index = -1;  // largest 0-based feature index seen
  std::int64_t lo = 0, hi = 0;
  detail::io::byte_range(0, file->size(), comm.rank(), comm.size(), lo, hi);
  {
    const auto guess = static_cast<std::size_t>((hi - lo) / 10 + 16);
    comm.run_agreed([&] {
      rows.reserve(guess);
      cols.reserve(guess);
      vals.reserve(guess);
    });
  }
  const auto pass = detail::io::for_each_line(*file, 0, file->size(), lo, hi, [&](std::string_view raw, std::int64_t) {
    const std::size_t hash = raw.find('#');
    const std::string_view t = detail::io::trim(hash == std::string_view::npos ? raw : raw.substr(0, hash));
    if (t.empty()) return;
    const auto row = static_cast<std::int64_t>(labels.size());
    std::size_t i = 0;
    const std::size_t len = t.size();
    auto next_token = [&]() {
      while (i < len && detail::io::is_blank(t[i])) ++i;
      std::size_t j = i;
      while (j < len && !detail::io::is_blank(t[j])) ++j;
      const std::string_view tok = t.substr(i, j - i);
      i = j;
      return tok;
    };
    const std::string_view label_tok = next_token();
    double label = 0;
    if (!detail::io::parse_double(label_tok, label)) throw LineError{fmt::format("non-numeric label {}", quoted(label_tok))};
    const bool keep = nonfinite == NonFinite::accept;
    if (!keep && !std::isfinite(label))
      throw LineError{fmt::format("non-finite label {} (rejected; read with io::NonFinite::accept to keep it)",
                                  quoted(label_tok))};
    while (true) {
      const std::string_view tok = next_token();
      if (tok.empty()) break;
      const std::size_t colon = tok.find(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 == tok.size())
        throw LineError{fmt::format("expected index:value, got {}", quoted(tok))};
      const std::string_view idx_s = tok.substr(0, colon), val_s = tok.substr(colon + 1);
      if (idx_s == "qid") {
        std::int64_t q = 0;
        if (!detail::io::parse_int(val_s, q)) throw LineError{fmt::format("non-integer qid in {}", quoted(tok))};
        continue;
      }
      std::int64_t idx = 0;
      double v = 0;
      if (!detail::io::parse_int(idx_s, idx))
        throw LineError{fmt::format("non-integer feature index {} in {}", quoted(idx_s), quoted(tok))};
      if (!detail::io::parse_double(val_s, v))
        throw LineError{fmt::format("non-numeric value {} in {}", quoted(val_s), quoted(tok))};
      if (!keep && !std::isfinite(v))
        throw LineError{fmt::format("non-finite value {} in {} (rejected; read with io::NonFinite::accept to keep it)",
                                    quoted(val_s), quoted(tok))};
      const std::int64_t c = idx - base;
      if (c < 0)
        throw LineError{fmt::format("feature index {} out of range (indices are {}-based)", idx, base)};
      if (n_features > 0 && c >= n_features)
        throw LineError{fmt::format("feature index {} out of range [{}, {}]", idx, base, n_features - 1 + base)};
      max_index = std::max(max_index, c);
      rows.push_back(row);
      cols.push_back(c);
      vals.push_back(v);
    }
    labels.push_back(label);
  });
  const auto extra = detail::io::finish_pass(comm, pass, kRead, path, 0,
                                             {static_cast<std::int64_t>(labels.size()), max_index});
  file.reset();

  const int nranks = comm.size(), rank = comm.rank();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(nranks));
  std::int64_t n = 0, first = 0, d = n_features;
  std::int64_t global_max = -1;
  for (int r = 0; r < nranks; ++r) {
    counts[r] = extra[2 * static_cast<std::size_t>(r)];
    if (r < rank) first += counts[r];
    n += counts[r];
    global_max = std::max(global_max, extra[2 * static_cast<std::size_t>(r) + 1]);
  }
  if (n_features == 0) d = global_max + 1;
  for (auto& r : rows) r += first;

  LabeledData out;
  detail::Triplets t;
  t.row = std::move(rows), t.col = std::move(cols), t.val = std::move(vals);
  out.X = detail::sparse_leaf({n, d}, std::move(t), DType::f64);
  out.y = vector_by_rank(counts, std::move(labels), rank);
  return out;
}

}  // namespace spartanxx::io
