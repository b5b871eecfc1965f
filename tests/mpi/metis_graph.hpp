#pragma once
// A reader of METIS graph files for tests, independent of spartanxx: the adjacency
// matrix of the graph as Eigen triplets (edge weights, or 1).
//
// Format (METIS manual, section 4.1.1): '%' lines are comments. The header is
// "n m [fmt [ncon]]": n vertices, m undirected edges; fmt is up to three digits "xyz"
// (x: vertex sizes given, y: vertex weights given, z: edge weights given; missing
// leading digits are 0); ncon vertex weights per vertex (1 when y is set and ncon is
// absent). Then one line per vertex i = 1..n (an empty line is a vertex without
// neighbours): [size] [w_1 ... w_ncon] then its neighbours v (1-based), each followed by
// the edge's weight when z is set. Every edge appears in both of its vertices' lines.
#include <Eigen/SparseCore>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace spartanxx_test {

struct MetisGraph {
  std::int64_t n = 0;  // vertices
  std::int64_t m = 0;  // undirected edges, as the header declares
  std::vector<Eigen::Triplet<double, std::int64_t>> triplets;  // (i, j, weight), both directions

  /// The symmetric adjacency matrix.
  Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> matrix() const {
    Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> a(n, n);
    a.setFromTriplets(triplets.begin(), triplets.end());
    a.makeCompressed();
    return a;
  }
};

/// Parses a METIS graph file; std::runtime_error naming the file and line on bad input.
inline MetisGraph read_metis_graph(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("read_metis_graph: cannot open " + path);
  auto fail = [&](std::int64_t line, const std::string& msg) {
    return std::runtime_error("read_metis_graph: " + path + " line " + std::to_string(line) + ": " + msg);
  };
  std::string line;
  std::int64_t line_no = 0;
  // The next line that is not a comment; false at the end.
  auto next = [&]() {
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty() && line[0] == '%') continue;
      return true;
    }
    return false;
  };

  MetisGraph g;
  // Header (blank lines before it are skipped).
  do {
    if (!next()) throw fail(line_no, "no header line");
  } while (line.find_first_not_of(" \t") == std::string::npos);
  std::istringstream hs(line);
  std::string fmt = "0";
  std::int64_t ncon = 0;
  if (!(hs >> g.n >> g.m)) throw fail(line_no, "header: expected \"n m [fmt [ncon]]\"");
  hs >> fmt;
  const bool has_ncon = static_cast<bool>(hs >> ncon);
  if (fmt.size() > 3 || fmt.find_first_not_of("01") != std::string::npos) throw fail(line_no, "header: bad fmt " + fmt);
  while (fmt.size() < 3) fmt = "0" + fmt;
  const bool sizes = fmt[0] == '1', vweights = fmt[1] == '1', eweights = fmt[2] == '1';
  if (!vweights) ncon = 0;
  else if (!has_ncon) ncon = 1;

  g.triplets.reserve(static_cast<std::size_t>(2 * g.m));
  for (std::int64_t v = 0; v < g.n; ++v) {
    if (!next()) throw fail(line_no, "expected " + std::to_string(g.n) + " vertex lines, found " + std::to_string(v));
    const char* p = line.c_str();
    char* end = nullptr;
    auto number = [&](long long& out) {
      out = std::strtoll(p, &end, 10);
      if (end == p) return false;
      p = end;
      return true;
    };
    long long x = 0;
    for (std::int64_t k = 0; k < (sizes ? 1 : 0) + ncon; ++k)
      if (!number(x)) throw fail(line_no, "missing vertex size or weight");
    while (number(x)) {
      if (x < 1 || x > g.n) throw fail(line_no, "neighbour " + std::to_string(x) + " out of range");
      double w = 1.0;
      if (eweights) {
        long long wi = 0;
        if (!number(wi)) throw fail(line_no, "missing edge weight");
        w = static_cast<double>(wi);
      }
      g.triplets.emplace_back(v, static_cast<std::int64_t>(x - 1), w);
    }
    while (*p == ' ' || *p == '\t') ++p;
    if (*p != '\0') throw fail(line_no, std::string("unexpected text: ") + p);
  }
  if (static_cast<std::int64_t>(g.triplets.size()) != 2 * g.m)
    throw fail(line_no, "header declares " + std::to_string(g.m) + " edges, the lines list " +
                            std::to_string(g.triplets.size()) + " adjacencies (expected twice as many)");
  return g;
}

}  // namespace spartanxx_test
