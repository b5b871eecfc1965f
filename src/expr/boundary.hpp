#pragma once
// The boundary between the lazy graph and materialized data, for the readers and
// writers of files (src/io) and the API's creation functions (src/api). What crosses it:
//   leaf(DistArray)           data a rank holds (dense or sparse) becomes a graph leaf;
//   sparse_leaf(triplets)     a sparse leaf from the triplets each rank holds;
//   lazy_leaf(LazySource)     a leaf whose shape and dtype are known at once and whose
//                             data a source reads when the graph is evaluated, each rank
//                             only its own tiles of the layout the plan chose;
//   data_of(Array)            the computed data behind an array (evaluates it).
// A new file format includes this header, array/dist_array.hpp (tiles and layouts) and
// mpi_backend/communicator.hpp, nothing more of src/expr.
#include <memory>
#include <string>

#include "array/dist_array.hpp"
#include "spartanxx/array.hpp"

namespace spartanxx::detail {

struct Triplets;

/// A source that reads its own boxes when the graph is evaluated (a dataset in a file).
class LazySource {
 public:
  virtual ~LazySource() = default;
  /// What explain() calls it, e.g. "read data.h5:/x".
  virtual std::string label() const = 0;
  /// This rank's tiles of the data under `layout` (collective: every rank calls it with
  /// the same layout). Errors only some ranks see are agreed on here, so that every rank
  /// throws the same.
  virtual DistArray read(const Layout& layout, backend::Communicator& comm) const = 0;
  /// The source of a basic slice of this one (one AxisSlice per axis), read without the
  /// rest, or nullptr when the source cannot read a slice alone (then the slice is taken
  /// from what it reads). The passes push slices of a source into it this way.
  virtual std::shared_ptr<const LazySource> sliced(const std::vector<tiling::AxisSlice>& slices) const {
    (void)slices;
    return nullptr;
  }
};

/// This rank's part of an array as a graph leaf: `data` holds this rank's tiles of its
/// layout (dense, or sparse with tile_nnz set).
Array leaf(DistArray data);

/// A sparse matrix from the triplets each rank holds (any rows, duplicates summed,
/// indices already checked), taken over rather than copied; rows split to balance stored
/// entries. Collective.
Array sparse_leaf(const Shape& shape, Triplets triplets, DType dtype);

/// A lazy leaf read by `source` when the graph is evaluated.
Array lazy_leaf(const Shape& shape, DType dtype, std::shared_ptr<const LazySource> source);

/// The computed data behind `a`: evaluates it first (collective when it is not yet).
const DistArray& data_of(const Array& a);

/// The communicator of the live Runtime (std::logic_error when there is none).
backend::Communicator& context_comm();

}  // namespace spartanxx::detail
