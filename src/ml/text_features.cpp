// spartanxx::ml::TextFeatures, on the public API only.
#include "spartanxx/ml/text_features.hpp"

#include <memory>

#include <fmt/format.h>

#include "spartanxx/errors.hpp"

namespace spartanxx::ml {

std::function<void(std::string_view, const TermSink&)> TokenizerSettings::terms() const {
  if (kind == "standard") return [](std::string_view s, const TermSink& emit) { for_each_token(s, emit); };
  if (kind == "split") {
    const char d = delimiter;
    return [d](std::string_view s, const TermSink& emit) { for_each_split(s, d, emit); };
  }
  if (kind != "regex")
    throw value_error(fmt::format("tokenizer: \"{}\" is not one of standard, regex, split", kind));
  std::shared_ptr<RegexTokenizer> re;
  try {
    re = std::make_shared<RegexTokenizer>(pattern, gaps, min_token_length, lowercase);
  } catch (const std::regex_error& e) {
    throw value_error(fmt::format("tokenizer: the pattern \"{}\" is not a valid regular expression: {}", pattern, e.what()));
  }
  return [re](std::string_view s, const TermSink& emit) {
    for (const std::string& t : (*re)(s)) emit(t);
  };
}

Array TextFeatures::transform(const std::vector<std::string>& local_texts) const {
  const Array tf = hashing.transform_texts(local_texts, tokenizer.terms());
  return idf ? idf->transform(tf) : tf;
}

}  // namespace spartanxx::ml
