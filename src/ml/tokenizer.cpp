// spartanxx::ml tokenizers, self-contained.
#include "spartanxx/ml/tokenizer.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include "spartanxx/errors.hpp"

namespace spartanxx::ml {

namespace {


/// `s` lower-cased as Java's String.toLowerCase() does it (Unicode's full mapping with
/// its context rules, such as a final sigma, in the root locale), into `out` (its capacity
/// reused). ASCII text takes a plain loop, the rest ICU (ill-formed UTF-8 becomes U+FFFD).
void lower_case(std::string_view s, std::string& out) {
  bool ascii = true;
  for (char c : s) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) {
    out.assign(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return;
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<std::int32_t>(s.size())));
  out.clear();
  u.toLower(icu::Locale::getRoot()).toUTF8String(out);
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

bool repair_utf8(std::string& text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  // Fast path: valid text is left untouched.
  std::string out;
  bool bad = false;
  std::size_t i = 0, copied = 0;
  while (i < n) {
    // ASCII runs, 8 bytes at a time.
    std::uint64_t word = 0;
    while (i + 8 <= n && (std::memcpy(&word, p + i, 8), (word & 0x8080808080808080ull) == 0)) i += 8;
    if (i >= n) break;
    const unsigned char c = p[i];
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    // The longest valid prefix of a sequence starting here (its maximal subpart).
    std::size_t ok = len == 0 ? 0 : 1;
    for (std::size_t k = 1; len > 0 && k < len && i + k < n; ++k) {
      const unsigned char b = p[i + k];
      const bool fits = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!fits) break;
      ++ok;
    }
    if (len > 0 && ok == len) {
      i += len;
      continue;
    }
    // Ill-formed: the maximal subpart (at least one byte) becomes one U+FFFD.
    if (!bad) out.reserve(n + 16);
    bad = true;
    out.append(text, copied, i - copied);
    out += "\xEF\xBF\xBD";
    i += std::max<std::size_t>(ok, 1);
    copied = i;
  }
  if (!bad) return false;
  out.append(text, copied, n - copied);
  text = std::move(out);
  return true;
}

namespace {

/// Java's split rules on a stream of pieces: empty pieces are held back until a
/// non-empty one follows (trailing ones are dropped), and "" gives one empty term.
class JavaSplitSink {
 public:
  explicit JavaSplitSink(const TermSink& emit) : emit_(emit) {}
  void piece(std::string_view p) {
    if (p.empty()) {
      ++pending_;
      return;
    }
    for (; pending_ > 0; --pending_) emit_(std::string_view());
    emit_(p);
  }

 private:
  const TermSink& emit_;
  std::size_t pending_ = 0;
};

}  // namespace

void for_each_split(std::string_view text, char delimiter, const TermSink& emit) {
  if (text.empty()) return emit(std::string_view());
  JavaSplitSink sink(emit);
  std::size_t at = 0;
  for (;;) {
    const std::size_t d = text.find(delimiter, at);
    if (d == std::string_view::npos) break;
    sink.piece(text.substr(at, d - at));
    at = d + 1;
  }
  sink.piece(text.substr(at));
}

void for_each_token(std::string_view text, const TermSink& emit) {
  if (text.empty()) return emit(std::string_view());
  // Byte classes: 1 a separator (Java's \\s), 2 what may need lower-casing (an ASCII
  // capital, or any byte of a non-ASCII character).
  static const auto kClass = [] {
    std::array<unsigned char, 256> t{};
    for (unsigned char c : {' ', '\t', '\n', '\v', '\f', '\r'}) t[c] = 1;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = 2;
    for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 2;
    return t;
  }();
  JavaSplitSink sink(emit);
  std::string lower;  // a term that needed it, lower-cased
  std::size_t start = 0;
  unsigned char capitals = 0;
  auto piece = [&](std::size_t end) {
    std::string_view p = text.substr(start, end - start);
    if (capitals) {
      lower_case(p, lower);
      p = lower;
    }
    sink.piece(p);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char k = kClass[static_cast<unsigned char>(text[i])];
    if (k == 1) {
      piece(i);
      start = i + 1;
      capitals = 0;
    } else {
      capitals |= k;
    }
  }
  piece(text.size());
}

std::vector<std::string> split_on(std::string_view text, char delimiter) {
  std::vector<std::string> parts;
  for_each_split(text, delimiter, [&](std::string_view t) { parts.emplace_back(t); });
  return parts;
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> parts;
  for_each_token(text, [&](std::string_view t) { parts.emplace_back(t); });
  return parts;
}

RegexTokenizer::RegexTokenizer(const std::string& pattern, bool gaps, std::size_t min_token_length, bool to_lowercase)
    : gaps_(gaps), min_length_(min_token_length), lower_(to_lowercase) {
  try {
    re_ = std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    throw value_error(fmt::format("RegexTokenizer: bad pattern \"{}\": {}", pattern, e.what()));
  }
}

std::vector<std::string> RegexTokenizer::operator()(std::string_view text) const {
  std::string s;
  if (lower_)
    lower_case(text, s);
  else
    s.assign(text);
  std::vector<std::string> terms;
  if (gaps_) {
    std::sregex_token_iterator it(s.begin(), s.end(), re_, -1), end;
    for (; it != end; ++it) terms.push_back(it->str());
  } else {
    std::sregex_iterator it(s.begin(), s.end(), re_), end;
    for (; it != end; ++it) terms.push_back(it->str());
  }
  std::vector<std::string> out;
  for (auto& t : terms)
    if (code_points(t) >= min_length_) out.push_back(std::move(t));
  return out;
}

}  // namespace spartanxx::ml
