// ml::read_labeled_documents ("label<TAB>text" lines) and ml::read_documents (one
// document per line) on arbitrary bytes. Whatever they accept: documents numbered 0..n-1
// on increasing lines, texts repaired to well-formed UTF-8 (checked by ICU), and the
// terms read with a tokenizer equal to the tokenizer applied to the texts read without.
#include <cmath>

#include "fuzz_common.hpp"
#include "spartanxx/ml/documents.hpp"
#include "spartanxx/ml/tokenizer.hpp"
#include "utf8_check.hpp"

namespace ml = spartanxx::ml;

namespace {

bool same_number(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

void check_documents(const ml::Documents& d, bool texts) {
  const std::size_t n = texts ? d.texts.size() : d.terms.size();
  if (static_cast<std::int64_t>(n) != d.total || d.labels.size() != n || d.index.size() != n || d.line.size() != n)
    fuzz::finding("Documents: counts disagree");
  for (std::size_t i = 0; i < n; ++i) {
    if (d.index[i] != static_cast<std::int64_t>(i)) fuzz::finding("Documents: index not 0..n-1");
    if (d.line[i] < 1 || (i > 0 && d.line[i] <= d.line[i - 1])) fuzz::finding("Documents: lines not increasing");
    if (texts && !fuzz::is_utf8(d.texts[i])) fuzz::finding("Documents: a text is not well-formed UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::runtime();
  const std::string& path = fuzz::write_input(data, size, ".tsv");
  ml::Documents texts, terms;
  if (fuzz::expect_typed(path, [&] { texts = ml::read_labeled_documents(path, nullptr); })) {
    check_documents(texts, true);
    if (!fuzz::expect_typed(path, [&] { terms = ml::read_labeled_documents(path, ml::tokenize); }))
      fuzz::finding("read_labeled_documents with a tokenizer rejected what it accepted without");
    check_documents(terms, false);
    for (std::size_t i = 0; i < texts.texts.size(); ++i)
      if (i >= terms.terms.size() || terms.terms[i] != ml::tokenize(texts.texts[i]) ||
          !same_number(terms.labels[i], texts.labels[i]))
        fuzz::finding("read_labeled_documents: terms differ from tokenize(text)");
  }
  ml::Documents lines;
  if (fuzz::expect_typed(path, [&] { lines = ml::read_documents(path, 1.0, nullptr); })) check_documents(lines, true);
  return 0;
}
