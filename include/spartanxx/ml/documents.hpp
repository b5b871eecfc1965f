#pragma once
// Labeled text documents read in parallel, tokenized, and split into train and test
// sets independently of the number of ranks.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace spartanxx::ml {

/// Text to terms (tokenize, a RegexTokenizer, a split_on lambda, ...).
using TokenizeFn = std::function<std::vector<std::string>(std::string_view)>;

/// This rank's documents of a file, in file order across ranks.
struct Documents {
  std::vector<std::vector<std::string>> terms;  // per document (when read with a TokenizeFn)
  std::vector<std::string> texts;               // per document (when read without one)
  std::vector<double> labels;                   // per document
  std::vector<std::int64_t> index;              // the document's number in the file (from 0, over all ranks)
  std::vector<std::int64_t> line;               // the document's line in the file (from 1)
  // Over all ranks:
  std::int64_t total = 0;         // documents
  std::int64_t empty_lines = 0;   // skipped (blank, or a label with no text)
  std::int64_t invalid_utf8 = 0;  // lines repaired (bad bytes replaced by U+FFFD)
  std::int64_t long_lines = 0;    // documents of more than 1 MiB (read whole, like any other)
  std::int64_t bytes = 0;         // text read, without line ends (uncompressed)
};

/// Raises value_error on every rank unless every label is 0 or 1, naming the file, the
/// line and the label of the first bad one. Collective.
void check_binary_labels(const Documents& documents, const std::string& path);

/// "label<TAB>text" per line (plain or .gz, see io::read_text_lines). A label that is not
/// a number, or a line without a tab, raises io_error naming the file and line on every
/// rank. Blank lines are skipped and counted. An empty `tokenize` keeps each document's
/// text (repaired) in `texts` instead, for HashingTF::transform_texts. Collective.
Documents read_labeled_documents(const std::string& path, const TokenizeFn& tokenize);

/// One document per line, every one labeled `label` (a positive and a negative file).
/// Blank lines are skipped and counted; an empty `tokenize` keeps the texts. Collective.
Documents read_documents(const std::string& path, double label, const TokenizeFn& tokenize);

/// Whether document `index` falls in the training share (`train_fraction`) of a split
/// seeded by `seed`: a hash of (seed, index), so the split is the same at every rank count.
bool in_training_split(std::uint64_t seed, std::int64_t index, double train_fraction);

}  // namespace spartanxx::ml
