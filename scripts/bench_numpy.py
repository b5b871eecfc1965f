#!/usr/bin/env python3
"""NumPy baseline for spartanxx-bench: times the same expressions on the same data.

The data are spartanxx's own random arrays, reproduced bit for bit: random::uniform
draws element g of an array with seed s from splitmix64(splitmix64(s) ^
splitmix64(2 g + 1)) (src/expr/exec_elementwise.cpp), and the seeds are those of
benchmarks/bench_*.cpp. So the result of every expression can be compared with
spartanxx's: each benchmark reports a checksum of its result (sum, sum of absolute
values, and 9 elements at indices k (size - 1) // 8 of the flattened C-order result).

Prints one JSON object to stdout; nothing else goes to stdout. Without NumPy it
still prints JSON ({"status": "error", ...}) and exits with status 2.

    python3 scripts/bench_numpy.py --elementwise-n 33554432 --reps 5
    python3 scripts/bench_numpy.py --quick --only elementwise,compute
"""
import argparse
import json
import os
import platform
import sys
import time

AREAS = ("elementwise", "compute", "reductions", "gemm")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--elementwise-n", type=int, default=1 << 25, help="n of a*x + b*y - z")
    p.add_argument("--compute-n", type=int, default=1 << 24, help="n of the transcendental expressions")
    p.add_argument("--reduce-rows", type=int, default=8192)
    p.add_argument("--reduce-cols", type=int, default=8192)
    p.add_argument("--gemm-n", type=int, default=2048)
    p.add_argument("--reps", type=int, default=5, help="timed repetitions")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    p.add_argument("--gemm-reps", type=int, default=3,
                   help="timed repetitions of matmul (no warm-up); 0 skips matmul")
    p.add_argument("--only", default=",".join(AREAS), help="comma-separated areas: " + ", ".join(AREAS))
    p.add_argument("--quick", action="store_true", help="small sizes (as spartanxx-bench --quick)")
    args = p.parse_args()
    if args.quick:
        args.elementwise_n, args.compute_n = 1 << 20, 1 << 20
        args.reduce_rows, args.reduce_cols, args.gemm_n = 1024, 1024, 256
    args.only = [a for a in args.only.split(",") if a]
    for a in args.only:
        if a not in AREAS:
            p.error("unknown area %r" % a)
    return args


def loaded_blas():
    """Shared libraries of this process that look like a BLAS (as loaded, links resolved)."""
    found = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6:
                    continue
                path = parts[5]
                base = os.path.basename(path).lower()
                if any(k in base for k in ("blas", "mkl", "blis", "atlas")):
                    real = os.path.realpath(path)
                    if real not in found:
                        found.append(real)
    except OSError:
        pass
    return found


def main():
    args = parse_args()
    info = {
        "python": platform.python_version(),
        "executable": sys.executable,
    }
    try:
        import numpy as np
    except ImportError as e:  # the C++ bench reports this and goes on
        info.update(status="error", error="no numpy for %s: %s" % (sys.executable, e))
        print(json.dumps(info, allow_nan=False))
        return 2

    u64 = np.uint64
    mask = (1 << 64) - 1

    def splitmix64_int(z):
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    def splitmix64(z):  # in place on a uint64 array; wraps modulo 2^64
        z += u64(0x9E3779B97F4A7C15)
        z ^= z >> u64(30)
        z *= u64(0xBF58476D1CE4E5B9)
        z ^= z >> u64(27)
        z *= u64(0x94D049BB133111EB)
        z ^= z >> u64(31)
        return z

    def uniform(shape, seed, lo=0.0, hi=1.0):
        """spartanxx::random::uniform(shape, seed, lo, hi), bit for bit."""
        size = 1
        for s in shape:
            size *= s
        out = np.empty(size, dtype=np.float64)
        key = u64(splitmix64_int(seed))
        chunk = 1 << 16
        for i in range(0, size, chunk):
            j = min(size, i + chunk)
            z = np.arange(i, j, dtype=np.uint64)
            z *= u64(2)
            z += u64(1)
            splitmix64(z)
            z ^= key
            splitmix64(z)
            z >>= u64(11)
            u = z.astype(np.float64)
            u *= 2.0 ** -53  # [0, 1), exactly as unit_open(bits) - 2^-53
            out[i:j] = lo + (hi - lo) * u
        return out.reshape(shape)

    def checksum(r):
        flat = np.ascontiguousarray(r).reshape(-1)
        n = flat.size
        idx = [(k * (n - 1)) // 8 for k in range(9)] if n else []
        return {
            "sum": float(flat.sum()),
            "sum_abs": float(np.abs(flat).sum()),
            "indices": idx,
            "samples": [float(flat[i]) for i in idx],
        }

    def timed(fn, reps, warmup):
        for _ in range(warmup):
            fn()
        times = []
        result = None
        for _ in range(reps):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        return times, result

    def median(v):
        s = sorted(v)
        h = len(s) // 2
        return s[h] if len(s) % 2 else 0.5 * (s[h - 1] + s[h])

    results = []

    def record(name, expression, sizes, times, result):
        results.append({
            "name": name,
            "expression": expression,
            "sizes": sizes,
            "seconds": times,
            "median_seconds": median(times) if times else None,
            "checksum": checksum(result),
        })

    # The same seeds, sizes and constants as benchmarks/bench_*.cpp.
    if "elementwise" in args.only:
        n = args.elementwise_n
        x, y, z = uniform((n,), 1), uniform((n,), 2), uniform((n,), 3)
        a, b = 1.5, -0.5
        times, r = timed(lambda: a * x + b * y - z, args.reps, args.warmup)
        record("elementwise", "a*x + b*y - z", {"n": n}, times, r)
        del x, y, z, r

    if "compute" in args.only:
        n = args.compute_n
        x, y = uniform((n,), 11, -4.0, 4.0), uniform((n,), 12, -4.0, 4.0)
        times, r = timed(lambda: 1.0 / (1.0 + np.exp(-x)) * np.log1p(y * y), args.reps, args.warmup)
        record("sigmoid*log1p", "sigmoid(x) * log1p(y*y)", {"n": n}, times, r)
        del r
        times, r = timed(lambda: np.exp(0.5 * x) * np.log(5.0 + y) - np.exp(-y), args.reps, args.warmup)
        record("exp/log mix", "exp(0.5*x) * log(5 + y) - exp(-y)", {"n": n}, times, r)
        del x, y, r

    if "reductions" in args.only:
        rows, cols = args.reduce_rows, args.reduce_cols
        m = uniform((rows, cols), 4)
        for axis in (0, 1):
            times, r = timed(lambda: m.sum(axis=axis), args.reps, args.warmup)
            record("sum(axis=%d)" % axis, "sum(m, %d)" % axis, {"rows": rows, "cols": cols}, times, r)
        del m

    if "gemm" in args.only and args.gemm_reps > 0:
        n = args.gemm_n
        a, b = uniform((n, n), 5, -1.0, 1.0), uniform((n, n), 6, -1.0, 1.0)
        times, r = timed(lambda: a @ b, args.gemm_reps, 0)
        record("gemm", "a @ b", {"n": n}, times, r)
        del a, b, r

    info.update(
        status="ok",
        numpy=np.__version__,
        blas=loaded_blas(),
        reps=args.reps,
        warmup=args.warmup,
        gemm_reps=args.gemm_reps,
        benchmarks=results,
    )
    print(json.dumps(info, indent=1, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
