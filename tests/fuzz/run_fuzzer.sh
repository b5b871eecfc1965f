#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its committed corpus:
#   run_fuzzer.sh FUZZER CORPUS WORK SECONDS [more libFuzzer flags]
# New inputs go to WORK/corpus (the committed corpus is only read); a finding (crash,
# leak, timeout, OOM, a FUZZ FINDING abort) is written to WORK/ and fails the run.
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 seconds=$4
shift 4
rm -rf "$work"
mkdir -p "$work/corpus"
# Open MPI's plugins stay loaded, so that lsan.supp can name its own leaks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export OMPI_MCA_mca_base_component_disable_dlclose=1
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" "$work/corpus" "$corpus" 2>&1 | tail -n 40
status=${PIPESTATUS[0]}
ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null && status=1
exit "$status"
