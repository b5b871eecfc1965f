// The tokenizers and UTF-8 repair on arbitrary bytes:
//   - repair_utf8 gives well-formed UTF-8 (decided by ICU), changes nothing in text that
//     was well-formed already, and is idempotent;
//   - the streaming for_each_token / for_each_split give the terms of tokenize / split_on;
//   - on ASCII text, tokenize equals a reference written here from Spark's definition
//     (lower-case, split at every single whitespace character with Java's String.split
//     rules);
//   - RegexTokenizer with Spark's default pattern runs on it.
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "spartanxx/ml/tokenizer.hpp"
#include "utf8_check.hpp"

namespace ml = spartanxx::ml;

namespace {

std::vector<std::string> collect_tokens(std::string_view s) {
  std::vector<std::string> out;
  ml::for_each_token(s, [&](std::string_view t) { out.emplace_back(t); });
  return out;
}

std::vector<std::string> collect_split(std::string_view s, char d) {
  std::vector<std::string> out;
  ml::for_each_split(s, d, [&](std::string_view t) { out.emplace_back(t); });
  return out;
}

// Java's "text".toLowerCase().split("\\s") for ASCII text.
std::vector<std::string> reference_ascii_tokens(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') {
      out.emplace_back();
    } else {
      out.back() += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  if (s.empty()) return out;  // "" splits into one empty string
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  std::string text = raw;
  const bool changed = ml::repair_utf8(text);
  if (!fuzz::is_utf8(text)) fuzz::finding("repair_utf8 left ill-formed UTF-8");
  if (fuzz::is_utf8(raw) && (changed || text != raw)) fuzz::finding("repair_utf8 changed well-formed UTF-8");
  if (!changed && text != raw) fuzz::finding("repair_utf8 changed the text and said it did not");
  std::string again = text;
  if (ml::repair_utf8(again) || again != text) fuzz::finding("repair_utf8 is not idempotent");

  for (const std::string* s : {&raw, static_cast<const std::string*>(&text)}) {
    const auto terms = ml::tokenize(*s);
    if (collect_tokens(*s) != terms) fuzz::finding("for_each_token differs from tokenize");
    const char d = size ? static_cast<char>(data[0]) : ',';
    if (collect_split(*s, d) != ml::split_on(*s, d)) fuzz::finding("for_each_split differs from split_on");
  }
  bool ascii = true;
  for (unsigned char c : raw) ascii = ascii && c < 0x80;
  if (ascii && ml::tokenize(raw) != reference_ascii_tokens(raw)) fuzz::finding("tokenize differs from Java's split on ASCII");

  static const ml::RegexTokenizer regex;  // Spark's default: "\\s+", gaps, min length 1, lower-cased
  (void)regex(text);
  return 0;
}
