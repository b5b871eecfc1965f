// spartanxx::ml document readers, on the public API only.
#include "spartanxx/ml/documents.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "spartanxx/errors.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ml/tokenizer.hpp"
#include "spartanxx/runtime.hpp"

namespace spartanxx::ml {

namespace {

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f') return false;
  return true;
}

/// A document's text: skipped and counted when blank, else repaired (counted), tokenized.
void add_document(Documents& d, std::string text, double label, std::int64_t line, const TokenizeFn& tokenize) {
  if (blank(text)) {
    ++d.empty_lines;
    return;
  }
  d.invalid_utf8 += repair_utf8(text);
  d.long_lines += text.size() > (std::size_t{1} << 20);
  if (tokenize)
    d.terms.push_back(tokenize(text));
  else
    d.texts.push_back(std::move(text));
  d.labels.push_back(label);
  d.line.push_back(line);
}

std::int64_t line_bytes(const io::TextLines& t) {
  std::int64_t n = 0;
  for (const std::string& s : t.lines) n += static_cast<std::int64_t>(s.size());
  return n;
}

/// If any rank saw a bad line, every rank throws E with the message of the first one.
/// A rank stops at its first bad line and ranks hold the lines in file order, so the
/// lowest failing rank's error (what agree() raises) is the first bad line's.
template <class E>
void raise_first_bad(std::int64_t bad_line, const std::string& bad_message) {
  Runtime::current().agree(bad_line < 0 ? nullptr : std::make_exception_ptr(E(bad_message)));
}

/// Sums the counters over ranks and numbers the documents; raises the first bad line's
/// error on every rank.
void finish(Documents& d, std::int64_t bad_line, const std::string& bad_message) {
  const Runtime& rt = Runtime::current();
  std::vector<std::int64_t> counts{static_cast<std::int64_t>(d.labels.size()), d.empty_lines, d.invalid_utf8,
                                   d.long_lines, d.bytes};
  rt.sum(counts);
  raise_first_bad<io_error>(bad_line, bad_message);
  const auto mine = static_cast<std::int64_t>(d.labels.size());
  const std::int64_t before = rt.exclusive_sum(mine);
  for (std::int64_t k = 0; k < mine; ++k) d.index.push_back(before + k);
  d.total = counts[0];
  d.empty_lines = counts[1];
  d.invalid_utf8 = counts[2];
  d.long_lines = counts[3];
  d.bytes = counts[4];
}

}  // namespace

Documents read_labeled_documents(const std::string& path, const TokenizeFn& tokenize) {
  io::TextLines t = io::read_text_lines(path);
  Documents d;
  d.bytes = line_bytes(t);
  std::int64_t bad_line = -1;
  std::string bad_message;
  for (std::size_t k = 0; k < t.lines.size() && bad_line < 0; ++k) {
    std::string& line = t.lines[k];
    if (blank(line)) {
      ++d.empty_lines;
      continue;
    }
    const std::int64_t file_line = t.first_line + static_cast<std::int64_t>(k) + 1;
    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      bad_line = file_line;
      bad_message = fmt::format("read_labeled_documents: {} line {}: no tab between label and text", path, file_line);
      break;
    }
    const std::string_view label(line.data(), tab);
    double value = 0;
    const auto r = std::from_chars(label.data(), label.data() + label.size(), value);
    if (r.ec != std::errc() || r.ptr != label.data() + label.size() || !std::isfinite(value)) {
      bad_line = file_line;
      bad_message = fmt::format("read_labeled_documents: {} line {}: label \"{}\" is not a number", path, file_line,
                                std::string(label.substr(0, 40)));
      break;
    }
    line.erase(0, tab + 1);
    add_document(d, std::move(line), value, file_line, tokenize);
  }
  finish(d, bad_line, bad_message);
  return d;
}

Documents read_documents(const std::string& path, double label, const TokenizeFn& tokenize) {
  io::TextLines t = io::read_text_lines(path);
  Documents d;
  d.bytes = line_bytes(t);
  for (std::size_t k = 0; k < t.lines.size(); ++k)
    add_document(d, std::move(t.lines[k]), label, t.first_line + static_cast<std::int64_t>(k) + 1, tokenize);
  finish(d, -1, std::string());
  return d;
}

void check_binary_labels(const Documents& d, const std::string& path) {
  std::int64_t bad_line = -1;
  std::string message;
  for (std::size_t k = 0; k < d.labels.size(); ++k) {
    if (d.labels[k] == 0.0 || d.labels[k] == 1.0) continue;
    bad_line = k < d.line.size() ? d.line[k] : d.index[k] + 1;
    message = fmt::format("{} line {}: label {} is not 0 or 1 (binary classification)", path, bad_line, d.labels[k]);
    break;
  }
  raise_first_bad<value_error>(bad_line, message);
}

bool in_training_split(std::uint64_t seed, std::int64_t index, double train_fraction) {
  // splitmix64 of (seed, index): 53 random bits as a uniform in [0, 1).
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(index) + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53 < train_fraction;
}

}  // namespace spartanxx::ml
