#pragma once
// spartanxx: NumPy-style distributed arrays over MPI. The umbrella header.
#include "spartanxx/array.hpp"
#include "spartanxx/creation.hpp"
#include "spartanxx/dtype.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/fwd.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ops.hpp"
#include "spartanxx/runtime.hpp"
#include "spartanxx/sparse.hpp"
#include "spartanxx/xtensor.hpp"
