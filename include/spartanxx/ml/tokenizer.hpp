#pragma once
// Text to terms as Spark does it: the ml Tokenizer, the RegexTokenizer, a plain
// delimiter split, and UTF-8 repair (Spark decodes text as UTF-8, replacing bad bytes).
#include <cstddef>
#include <functional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace spartanxx::ml {

/// Replaces every maximal ill-formed UTF-8 subsequence by U+FFFD (EF BF BD), as a UTF-8
/// decoder that substitutes does; true if anything was replaced.
bool repair_utf8(std::string& text);

/// Splits at every `delimiter`; empty pieces are kept, except trailing ones (as Java's
/// String.split); "" gives one empty term.
std::vector<std::string> split_on(std::string_view text, char delimiter);

/// Spark ml's Tokenizer: lower-cased as Java's String.toLowerCase() does (Unicode's full
/// mapping and its context rules: "ΟΔΟΣ" gives "οδος" with a final sigma, "İ" gives "i"
/// and U+0307), split at every single whitespace character (space, \t, \n, \v, \f,
/// \r) with Java's String.split rules: empty terms
/// between consecutive blanks and a leading one are kept, trailing ones dropped, and ""
/// gives one empty term.
std::vector<std::string> tokenize(std::string_view text);

/// Receives terms one by one; a term's view is valid during the call only.
using TermSink = std::function<void(std::string_view term)>;

/// The terms of tokenize(text), passed to `emit` one by one without making a string of
/// each (the fast path of HashingTF::transform_texts).
void for_each_token(std::string_view text, const TermSink& emit);

/// The terms of split_on(text, delimiter), passed to `emit` one by one.
void for_each_split(std::string_view text, char delimiter, const TermSink& emit);

/// Spark ml's RegexTokenizer: with `gaps` the pattern separates terms, otherwise it
/// matches them; terms shorter than `min_token_length` characters (UTF-8 code points)
/// are dropped; lower-cased (as tokenize does) first when `to_lowercase`. The pattern is an
/// ECMAScript regular expression (Spark's are Java's: the common syntax is the same).
class RegexTokenizer {
 public:
  explicit RegexTokenizer(const std::string& pattern = "\\s+", bool gaps = true, std::size_t min_token_length = 1,
                          bool to_lowercase = true);
  std::vector<std::string> operator()(std::string_view text) const;

 private:
  std::regex re_;
  bool gaps_;
  std::size_t min_length_;
  bool lower_;
};

}  // namespace spartanxx::ml
