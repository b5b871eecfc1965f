#pragma once
// Sparse matrices in HDF5, in the group layout anndata, scanpy and SciPy users exchange:
// `data`, `indices`, `indptr` datasets and the attributes `encoding-type` ("csr_matrix"
// or "csc_matrix"), `encoding-version` ("0.1.0") and `shape`.
#include <hdf5.h>

#include <string>

#include "array/dist_array.hpp"
#include "io/hdf5_file.hpp"
#include "spartanxx/array.hpp"

namespace spartanxx::detail::io {

/// The group at where.object of `file` as a sparse matrix split by rows (balanced by
/// stored entries), read in parallel. Collective.
Array read_sparse_group(hid_t file, const Where& where, backend::Communicator& comm);

/// A sparse array as a "csr_matrix" group `name` (which must not exist). Collective.
void write_sparse_group(hid_t file, const std::string& name, const DistArray& data, const spartanxx::io::Hdf5Options& o,
                        const Where& where, backend::Communicator& comm);

/// A 1-d or N-d dataset created with the options' chunks and filters (collective).
H5Id create_dataset(hid_t parent, const std::string& name, DType dtype, hid_t file_type, const Shape& shape,
                    const spartanxx::io::Hdf5Options& o, const Where& where, backend::Communicator& comm);

/// A dense array as dataset `name` with the options' chunks, filters and attributes;
/// replicated tiles written by rank 0 (collective; partial layouts not accepted).
void write_dense(hid_t file, const std::string& name, const DistArray& data, const spartanxx::io::Hdf5Options& o,
                 const Where& where, backend::Communicator& comm);

}  // namespace spartanxx::detail::io
