"""HDF5 interchange between spartanxx and h5py/NumPy/SciPy, the Python half.

  h5py_interop.py make DIR    writes DIR/from_h5py.h5 with h5py (every dtype, both byte
                              orders, contiguous, chunked, gzip, shuffle, fletcher32,
                              0-d to 3-d, empty; CSR and CSC groups built by scipy.sparse),
                              the values of every dataset as raw little-endian files and
                              DIR/manifest.txt naming them, for spartanxx to read.
  h5py_interop.py check FILE  reads a file that spartanxx wrote (interop_tool write) with
                              h5py and compares every dataset, attribute and sparse group
                              with the same formulas computed here in NumPy.

Exit status 0 when everything matched; otherwise the mismatches are printed.
"""
import os
import sys

import h5py
import numpy as np
import scipy.sparse as sp

# ---- make: files h5py writes, spartanxx reads ----

# spartanxx's dtype for each stored type (int8/16, uint8/16 widen to int32, uint32 to int64).
WIDENED = {
    "f8": "float64", "f4": "float32", "i8": "int64", "i4": "int32", "b1": "bool",
    "i1": "int32", "i2": "int32", "u1": "int32", "u2": "int32", "u4": "int64",
}
NUMPY_OF = {"float64": "<f8", "float32": "<f4", "int64": "<i8", "int32": "<i4", "bool": "u1"}


def values(code, shape, rng):
    """Values of a stored type: for floats, special values among random ones."""
    n = int(np.prod(shape, dtype=np.int64))
    if code in ("f8", "f4"):
        v = rng.standard_normal(n) * 1e3
        special = [np.nan, np.inf, -np.inf, -0.0, 5e-324 if code == "f8" else 1e-45, 1e300 if code == "f8" else 3e38]
        v[: min(n, len(special))] = special[: min(n, len(special))]
        return v.astype(code).reshape(shape)
    if code == "b1":
        return (rng.integers(0, 2, n) == 1).reshape(shape)
    info = np.iinfo(code)
    v = rng.integers(info.min, info.max, n, endpoint=True, dtype=np.int64 if code != "u4" else np.uint64)
    if n >= 2:
        v[0], v[1] = info.min, info.max
    return v.astype(code).reshape(shape)


def make(out_dir):
    rng = np.random.default_rng(20261204)
    path = os.path.join(out_dir, "from_h5py.h5")
    manifest = []

    def add_raw(name, kind, dtype, shape, array):
        raw = os.path.join(out_dir, "raw_%d.bin" % len(manifest))
        np.ascontiguousarray(array).astype(NUMPY_OF[dtype]).tofile(raw)
        shape_text = ",".join(str(s) for s in shape) if len(shape) else "-"
        manifest.append("%s %s %s %s %s" % (name, kind, dtype, shape_text, os.path.basename(raw)))

    with h5py.File(path, "w") as f:
        for code, dtype in WIDENED.items():
            for order in ("<", ">") if code != "b1" else ("",):
                stored = order + code if code != "b1" else "?"
                layouts = {
                    "contiguous": {},
                    "chunked": {"chunks": (8, 5)},
                    "gzip": {"chunks": (10, 11), "compression": "gzip", "compression_opts": 4},
                    "shuffle_gzip": {"chunks": (16, 3), "compression": "gzip", "shuffle": True},
                    "fletcher32": {"chunks": (7, 11), "fletcher32": True},
                }
                for layout, kw in layouts.items():
                    name = "/dense/%s%s/%s" % (code, "_be" if order == ">" else "", layout)
                    a = values(code, (37, 11), rng)
                    f.create_dataset(name, data=a, dtype=stored, **kw)
                    add_raw(name, "dense", dtype, a.shape, a)
            for shape in [(), (0,), (1,), (1001,), (2, 9), (0, 4), (1, 1), (5, 4, 3)]:
                name = "/shapes/%s/%s" % (code, "x".join(str(s) for s in shape) or "scalar")
                a = values(code, shape, rng)
                f.create_dataset(name, data=a)
                add_raw(name, "dense", dtype, shape, a)
        # A chunked 3-d dataset whose chunks straddle every tile boundary.
        a = values("f8", (9, 7, 6), rng)
        f.create_dataset("/nested/deep/cube", data=a, chunks=(4, 3, 5), compression="gzip", shuffle=True)
        add_raw("/nested/deep/cube", "dense", "float64", a.shape, a)

        # Sparse groups as anndata writes them, built by scipy.sparse.
        def sparse_group(name, m, encoding, index_dtype, compression=None):
            g = f.create_group(name)
            g.attrs["encoding-type"] = encoding
            g.attrs["encoding-version"] = "0.1.0"
            g.attrs["shape"] = np.array(m.shape, dtype=np.int64)
            kw = {"compression": compression} if compression else {}
            g.create_dataset("data", data=m.data, **kw)
            g.create_dataset("indices", data=m.indices.astype(index_dtype), **kw)
            g.create_dataset("indptr", data=m.indptr.astype(index_dtype), **kw)
            dense = m.toarray()
            add_raw(name, "sparse", "float64" if m.dtype == np.float64 else "float32", dense.shape, dense)

        m = sp.random(503, 301, density=0.03, format="csr", random_state=7, dtype=np.float64)
        m = sp.csr_matrix(m.multiply(np.where(np.arange(503) % 7 == 3, 0, 1)[:, None]))  # empty rows
        m.sort_indices()
        sparse_group("/sparse/csr_int32", m, "csr_matrix", np.int32)
        sparse_group("/sparse/csr_int64_gzip", m, "csr_matrix", np.int64, compression="gzip")
        sparse_group("/sparse/csr_float32", m.astype(np.float32), "csr_matrix", np.int32)
        sparse_group("/sparse/csc", sp.csc_matrix(m), "csc_matrix", np.int32)
        sparse_group("/sparse/csr_few_rows", sp.random(2, 50, density=0.2, format="csr", random_state=3), "csr_matrix",
                     np.int64)
        sparse_group("/sparse/csr_empty", sp.csr_matrix((0, 6)), "csr_matrix", np.int64)

    with open(os.path.join(out_dir, "manifest.txt"), "w") as out:
        out.write("\n".join(manifest) + "\n")
    print("h5py wrote %s: %d datasets and groups" % (path, len(manifest)))


# ---- check: files spartanxx writes, h5py reads ----
# The formulas that interop_tool's `write` uses, computed here independently.


def formula(dtype, shape):
    i = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    if dtype == "float64":
        v = ((i * 7919) % 1000 - 500) / 7.0
    elif dtype == "float32":
        v = (((i * 7919) % 1000 - 500) / 7.0).astype(np.float32)
    elif dtype == "int64":
        v = i * 1000003 - (1 << 40)
    elif dtype == "int32":
        v = (i * 7919 % 100000 - 50000).astype(np.int32)
    else:
        v = i % 3 == 0
    return v.reshape(shape)


SHAPES = [(), (0,), (1,), (2, 3), (13, 7), (0, 4), (5, 4, 3), (1031,), (3, 1)]
DTYPES = ["float64", "float32", "int64", "int32", "bool"]
H5PY_DTYPE = {"float64": np.dtype("<f8"), "float32": np.dtype("<f4"), "int64": np.dtype("<i8"),
              "int32": np.dtype("<i4"), "bool": np.dtype("?")}


def shape_name(shape):
    return "x".join(str(s) for s in shape) or "scalar"


def formula_sparse(n, m):
    """The CSR matrix of interop_tool: (i, j) stored when (3i + 5j) % 11 == 0 and row i % 7 != 3."""
    rows, cols = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    keep = ((3 * rows + 5 * cols) % 11 == 0) & (rows % 7 != 3)
    vals = (rows - 2.0 * cols + 0.5) / 3.0
    m = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, m))
    m.sort_indices()
    return m


def check(path):
    errors = []

    def expect(cond, what):
        if not cond:
            errors.append(what)

    with h5py.File(path, "r") as f:
        for dtype in DTYPES:
            for shape in SHAPES:
                for layout in ("contiguous", "gzip"):
                    name = "/dense/%s/%s/%s" % (dtype, shape_name(shape), layout)
                    if name not in f:
                        errors.append("%s: missing" % name)
                        continue
                    ds = f[name]
                    want = formula(dtype, shape)
                    expect(ds.shape == shape, "%s: shape %s, expected %s" % (name, ds.shape, shape))
                    expect(ds.dtype == H5PY_DTYPE[dtype], "%s: dtype %s, expected %s" % (name, ds.dtype, dtype))
                    got = ds[()]
                    expect(np.array_equal(np.asarray(got), want), "%s: values differ" % name)
                    if layout == "gzip" and len(shape) > 0 and np.prod(shape) > 0:
                        expect(ds.compression == "gzip" and ds.shuffle, "%s: not gzip+shuffle" % name)
        ds = f["/dense/float64/13x7/gzip"]
        expect(ds.attrs.get("units") == "metres", "attribute units: %r" % ds.attrs.get("units"))
        expect(ds.attrs.get("scale") == 0.25, "attribute scale: %r" % ds.attrs.get("scale"))
        expect(int(ds.attrs.get("count")) == 42, "attribute count: %r" % ds.attrs.get("count"))
        chunked = f["/dense/float64/chunked_4x3"]
        expect(chunked.chunks == (4, 3), "chunks %s, expected (4, 3)" % (chunked.chunks,))
        expect(np.array_equal(chunked[()], formula("float64", (13, 7))), "chunked values differ")

        for name, index_dtype in (("/sparse/csr64", np.int64), ("/sparse/csr32", np.int32)):
            g = f[name]
            expect(g.attrs.get("encoding-type") == "csr_matrix", "%s: encoding-type %r" % (name, g.attrs.get("encoding-type")))
            expect(g.attrs.get("encoding-version") == "0.1.0", "%s: encoding-version" % name)
            shape = tuple(int(s) for s in g.attrs["shape"])
            expect(shape == (211, 97), "%s: shape %s" % (name, shape))
            expect(g["indices"].dtype == index_dtype and g["indptr"].dtype == index_dtype, "%s: index dtype" % name)
            got = sp.csr_matrix((g["data"][()], g["indices"][()], g["indptr"][()]), shape=shape)
            want = formula_sparse(*shape)
            expect(got.has_sorted_indices, "%s: indices not sorted within rows" % name)
            expect(got.nnz == want.nnz, "%s: nnz %d, expected %d" % (name, got.nnz, want.nnz))
            expect(np.array_equal(got.indptr, want.indptr), "%s: indptr differs" % name)
            expect(np.array_equal(got.indices, want.indices), "%s: indices differ" % name)
            expect(np.array_equal(got.data, want.data), "%s: data differs" % name)
        g = f["/group/with/attributes"]
        expect(g.attrs.get("note") == "written by spartanxx", "group attribute note: %r" % g.attrs.get("note"))

    if errors:
        print("h5py found %d mismatches in %s:" % (len(errors), path))
        for e in errors:
            print("  " + e)
        return 1
    print("h5py read %s: every dataset, attribute and sparse group as computed by NumPy/SciPy" % path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
