#!/usr/bin/env bash
# bench/run.sh: builds and runs every korral benchmark with default settings and prints the
# results with the date, the machine and the git commit (paste the output into BENCHMARKS.md).
#
# Usage: bench/run.sh [BUILD_DIR]            (default: build)
#   APISERVER_BENCH_ARGS="--pods=5000"        extra arguments for apiserver_bench
#   STORAGE_BENCH_ARGS="--backend=sqlite"     extra arguments for storage_bench
#
# Builds only `apiserver_bench`, `storage_bench` (if bench/storage exists) and `korral`. Every
# server runs on 127.0.0.1 in a temporary directory and is stopped at the end.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${1:-build}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
BIN="$BUILD_DIR/bin"

if [[ ! -f "$BUILD_DIR/build.ninja" && ! -f "$BUILD_DIR/Makefile" ]]; then
  echo "run.sh: $BUILD_DIR is not a configured build dir; run e.g." >&2
  echo "  cmake -S $ROOT -B $BUILD_DIR -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKORRAL_BUILD_BENCHMARKS=ON" >&2
  exit 2
fi

targets=(korral apiserver_bench)
[[ -f "$ROOT/bench/storage/CMakeLists.txt" ]] && targets+=(storage_bench)
[[ -f "$ROOT/bench/scheduler/CMakeLists.txt" ]] && targets+=(scheduler_bench)
[[ -f "$ROOT/bench/stats/CMakeLists.txt" ]] && targets+=(stats_bench)
echo "== build: ${targets[*]}"
cmake --build "$BUILD_DIR" --target "${targets[@]}" || { echo "run.sh: build failed" >&2; exit 1; }

echo
echo "== machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')"
echo "nproc:   $(nproc)"
echo "cpu:     $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel:  $(uname -r)"
echo "build:   $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)"

status=0

echo
echo "== apiserver_bench"
# shellcheck disable=SC2086
"$BIN/apiserver_bench" --korral="$BIN/korral" ${APISERVER_BENCH_ARGS:-} || status=1

if [[ -x "$BIN/storage_bench" ]]; then
  echo
  echo "== storage_bench"
  # shellcheck disable=SC2086
  "$BIN/storage_bench" ${STORAGE_BENCH_ARGS:-} || status=1
fi

if [[ -x "$ROOT/bench/storage/etcd_put_rate.sh" || -f "$ROOT/bench/storage/etcd_put_rate.sh" ]]; then
  echo
  echo "== etcd put rate (reference)"
  if [[ -x "$BIN/storage_bench" ]]; then
    bash "$ROOT/bench/storage/etcd_put_rate.sh" "$BIN/storage_bench" || status=1
  else
    bash "$ROOT/bench/storage/etcd_put_rate.sh" || status=1
  fi
fi

if [[ $(id -u) = 0 && -x /usr/bin/containerd ]]; then
  echo
  echo "== node (pod startup on containerd, agent RSS/CPU, hollow nodes)"
  KORRAL_BIN="$BIN/korral" /usr/bin/python3 "$ROOT/bench/node/node_bench.py" ${NODE_BENCH_ARGS:-} || status=1
fi

if [[ -x "$BIN/stats_bench" ]]; then
  echo
  echo "== stats_bench (container stats cost per sample)"
  # shellcheck disable=SC2086
  "$BIN/stats_bench" ${STATS_BENCH_ARGS:-} || status=1
fi

if [[ -x "$BIN/scheduler_bench" ]]; then
  echo
  echo "== scheduler_bench"
  # SCHEDULER_BENCH_ARGS="--nodes=500 --e2e" etc.; e2e needs --korral.
  # shellcheck disable=SC2086
  "$BIN/scheduler_bench" --korral="$BIN/korral" ${SCHEDULER_BENCH_ARGS:-} || status=1
fi

echo
echo "== controllers (namespace with 10,000 objects deleted, controller-manager RSS)"
/usr/bin/python3 "$ROOT/bench/controllers/controllers_bench.py" --korral="$BIN/korral" ${CONTROLLERS_BENCH_ARGS:-} || status=1

exit $status
