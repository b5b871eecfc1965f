// spartanxx::ml tokenizers against the results Java's String.split and Spark's
// documentation give for the same inputs, and UTF-8 repair against the Unicode rule of
// one U+FFFD per maximal ill-formed subpart.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "spartanxx/errors.hpp"
#include "spartanxx/ml/tokenizer.hpp"

namespace ml = spartanxx::ml;
using V = std::vector<std::string>;

TEST(Tokenizer, SparkTokenizerFollowsJavaSplit) {
  EXPECT_EQ(ml::tokenize("Hi I heard about Spark"), (V{"hi", "i", "heard", "about", "spark"}));
  EXPECT_EQ(ml::tokenize("a  b"), (V{"a", "", "b"}));  // "a  b".split("\\s")
  EXPECT_EQ(ml::tokenize(" a"), (V{"", "a"}));
  EXPECT_EQ(ml::tokenize("a \t\r\n"), (V{"a"}));
  EXPECT_EQ(ml::tokenize(""), (V{""}));
  EXPECT_EQ(ml::tokenize("   "), (V{}));
  EXPECT_EQ(ml::tokenize("Logistic,regression"), (V{"logistic,regression"}));
}

// Java's String.toLowerCase() (what Spark's Tokenizer calls) beyond ASCII: Unicode's
// full mapping with the final-sigma rule, and the non-Turkish dotted capital I.
TEST(Tokenizer, LowerCasesAsJavaDoes) {
  EXPECT_EQ(ml::tokenize("\xC3\x89T\xC3\x89 OK"), (V{"\xC3\xA9t\xC3\xA9", "ok"}));  // ÉTÉ -> été
  // ΟΔΟΣ ΣΑΣ Σ -> οδος σας σ: a capital sigma ending a word becomes ς, elsewhere σ.
  EXPECT_EQ(ml::tokenize("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91\xCE\xA3 \xCE\xA3"),
            (V{"\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82", "\xCF\x83\xCE\xB1\xCF\x82", "\xCF\x83"}));
  EXPECT_EQ(ml::tokenize("\xC4\xB0stanbul"), (V{"i\xCC\x87stanbul"}));  // İ -> i + U+0307
  EXPECT_EQ(ml::tokenize("\xC3\x9F \xE2\x84\xAA"), (V{"\xC3\x9F", "k"}));  // ß stays, the Kelvin sign -> k
  EXPECT_EQ(ml::RegexTokenizer("\\s+")("Gro\xC3\x9F \xC3\x84RGER"), (V{"gro\xC3\x9f", "\xC3\xA4rger"}));
  // Terms of the streaming form are the same.
  V streamed;
  ml::for_each_token("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 X", [&](std::string_view t) { streamed.emplace_back(t); });
  EXPECT_EQ(streamed, (V{"\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82", "x"}));
}

TEST(Tokenizer, SplitOnDelimiter) {
  EXPECT_EQ(ml::split_on("12,7,,3", ','), (V{"12", "7", "", "3"}));
  EXPECT_EQ(ml::split_on("12,7,,", ','), (V{"12", "7"}));
  EXPECT_EQ(ml::split_on(",1", ','), (V{"", "1"}));
  EXPECT_EQ(ml::split_on("", ','), (V{""}));
  EXPECT_EQ(ml::split_on("no delimiter", ','), (V{"no delimiter"}));
}

namespace {
/// Java's String.split(regex of one character class) written out: cut at every
/// separator, drop trailing empty pieces, but "" gives [""]; `lower` lower-cases ASCII.
V java_split(const std::string& text, const std::string& separators, bool lower) {
  if (text.empty()) return {""};
  V parts(1);
  for (char c : text) {
    if (separators.find(c) != std::string::npos) {
      parts.emplace_back();
    } else {
      parts.back() += lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  return parts;
}

V streamed(const std::string& text, bool split) {
  V out;
  const ml::TermSink sink = [&](std::string_view t) { out.emplace_back(t); };
  if (split)
    ml::for_each_split(text, ',', sink);
  else
    ml::for_each_token(text, sink);
  return out;
}
}  // namespace

// The streaming forms give the terms of tokenize and split_on (built on them), and both
// equal Java's split written out above on every string of up to 6 characters over
// {a, B, ' ', '\t', ','}.
TEST(Tokenizer, StreamingFormsEqualTheListForms) {
  for (const std::string s : {"Hi I heard about Spark", "a  b", " a", "a \t\r\n", "", "   ", "12,7,,3", ",1", "12,7,,"}) {
    EXPECT_EQ(streamed(s, false), ml::tokenize(s)) << '"' << s << '"';
    EXPECT_EQ(streamed(s, true), ml::split_on(s, ',')) << '"' << s << '"';
  }
  const char alphabet[] = {'a', 'B', ' ', '\t', ','};
  int checked = 0;
  for (int len = 0; len <= 6; ++len) {
    int total = 1;
    for (int k = 0; k < len; ++k) total *= 5;
    for (int code = 0; code < total; ++code) {
      std::string s;
      for (int k = 0, c = code; k < len; ++k, c /= 5) s += alphabet[c % 5];
      ASSERT_EQ(streamed(s, false), java_split(s, " \t\n\v\f\r", true)) << '"' << s << '"';
      ASSERT_EQ(streamed(s, true), java_split(s, ",", false)) << '"' << s << '"';
      ASSERT_EQ(ml::tokenize(s), streamed(s, false)) << '"' << s << '"';
      ASSERT_EQ(ml::split_on(s, ','), streamed(s, true)) << '"' << s << '"';
      ++checked;
    }
  }
  EXPECT_EQ(checked, 19531);
}

// Spark's documentation: RegexTokenizer(pattern "\\W") on "Logistic,regression,models,are,neat".
TEST(Tokenizer, RegexTokenizer) {
  const ml::RegexTokenizer words("\\W");
  EXPECT_EQ(words("Logistic,regression,models,are,neat"), (V{"logistic", "regression", "models", "are", "neat"}));
  const ml::RegexTokenizer blanks;  // "\\s+", gaps, min length 1, lower-cased
  EXPECT_EQ(blanks("  Hi   I heard\tabout Spark  "), (V{"hi", "i", "heard", "about", "spark"}));
  EXPECT_EQ(blanks(""), (V{}));
  const ml::RegexTokenizer matching("[a-z]+", /*gaps=*/false, /*min_token_length=*/3, /*to_lowercase=*/false);
  EXPECT_EQ(matching("ab abc ABCD abcd x1yz9"), (V{"abc", "abcd"}));
  const ml::RegexTokenizer long_terms("\\s+", true, 2);
  EXPECT_EQ(long_terms("a \xC3\xA9\xC3\xA9 b cd"), (V{"\xC3\xA9\xC3\xA9", "cd"}));  // length in characters
  EXPECT_THROW(ml::RegexTokenizer("(unclosed"), spartanxx::value_error);
}

TEST(Tokenizer, RepairUtf8) {
  auto repaired = [](std::string s) {
    ml::repair_utf8(s);
    return s;
  };
  const std::string R = "\xEF\xBF\xBD";
  std::string ok = "plain ASCII, \xC3\xA9t\xC3\xA9, \xE6\x97\xA5\xE6\x9C\xAC, \xF0\x9F\x98\x80";
  std::string copy = ok;
  EXPECT_FALSE(ml::repair_utf8(copy));
  EXPECT_EQ(copy, ok);
  std::string bad = "a\xFF" "b";
  EXPECT_TRUE(ml::repair_utf8(bad));
  EXPECT_EQ(bad, "a" + R + "b");
  EXPECT_EQ(repaired("\xC3"), R);                       // truncated 2-byte sequence
  EXPECT_EQ(repaired("\xE6\x97" "x"), R + "x");         // truncated 3-byte sequence: one U+FFFD
  EXPECT_EQ(repaired("\xC0\xAF"), R + R);               // C0 never starts a sequence; AF alone
  EXPECT_EQ(repaired("\xED\xA0\x80"), R + R + R);       // a surrogate: ED then two lone continuations
  EXPECT_EQ(repaired("\xF4\x90\x80\x80"), R + R + R + R);  // above U+10FFFF
  EXPECT_EQ(repaired("\x80\x80"), R + R);
}
