#!/usr/bin/env bash
# Builds the libFuzzer harnesses in build-fuzz/ with clang and runs each for a bounded time on a
# copy of its committed corpus (tests/fuzz/corpus/<harness>/ is never written). See README.md here.
#
#   tests/fuzz/run.sh                    every harness, FUZZ_SECONDS (default 15) each
#   tests/fuzz/run.sh fuzz_token ...     only these
#   FUZZ_SECONDS=600 tests/fuzz/run.sh   a longer campaign
#
# Environment: FUZZ_SECONDS, FUZZ_CC (default clang-14), FUZZ_BUILD_DIR (default build-fuzz),
# FUZZ_JOBS (build parallelism, default nproc), FUZZ_KEEP=1 keeps the grown corpora (their path
# is printed) for picking new seeds by hand.
# Exit status: 0 when every harness ran clean; 1 when any crashed, leaked, timed out or broke an
# invariant (the input is saved under build-fuzz/fuzz-artifacts/ and named in the output).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
CC_BIN=${FUZZ_CC:-clang-14}
SECONDS_EACH=${FUZZ_SECONDS:-15}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
ALL=(fuzz_json_body fuzz_token fuzz_cursor fuzz_form fuzz_ics)
if [ $# -gt 0 ]; then HARNESSES=("$@"); else HARNESSES=("${ALL[@]}"); fi

if ! command -v "$CC_BIN" >/dev/null 2>&1; then
  echo "fuzz: $CC_BIN not found; install the Debian packages clang-14 libclang-rt-14-dev llvm-14" >&2
  echo "fuzz: 0 passed, ${#HARNESSES[@]} failed"
  exit 1
fi
if ! "$CC_BIN" -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null | grep -q /; then
  echo "fuzz: $CC_BIN has no libFuzzer runtime; install libclang-rt-14-dev" >&2
fi

echo "fuzz: building in $BUILD with $CC_BIN"
mkdir -p "$BUILD"
if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER="$CC_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DFORUMNET_FUZZ=ON -DFORUMNET_TESTS=OFF >"$BUILD/fuzz-configure.log" 2>&1 &&
       cmake --build "$BUILD" -j "$JOBS" --target "${HARNESSES[@]}" >"$BUILD/fuzz-build.log" 2>&1; }; then
  tail -n 40 "$BUILD/fuzz-configure.log" "$BUILD/fuzz-build.log" 2>/dev/null
  echo "fuzz: build failed"
  echo "fuzz: 0 passed, ${#HARNESSES[@]} failed"
  exit 1
fi

# llvm-symbolizer turns the stack traces of a crash into file:line.
for s in llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer llvm-symbolizer; do
  if command -v "$s" >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$s")}
    break
  fi
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ARTIFACTS=$BUILD/fuzz-artifacts
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forumnet-fuzz.XXXXXX")
if [ "${FUZZ_KEEP:-0}" != 1 ]; then
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$ARTIFACTS"
passed=0
failed=0
for h in "${HARNESSES[@]}"; do
  bin=$BUILD/tests/fuzz/$h
  corpus=$WORK/$h
  mkdir -p "$corpus"
  cp -R "$ROOT/tests/fuzz/corpus/$h/." "$corpus/" 2>/dev/null || true
  seeds=$(find "$corpus" -type f | wc -l)
  log=$WORK/$h.log
  start=$(date +%s)
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$ARTIFACTS/$h-" "$corpus" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  grown=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $h ok: ${execs:-?} execs in ${took}s, ${cov:-cov: ?}, corpus $seeds -> $grown"
  else
    failed=$((failed + 1))
    echo "fuzz: $h FAILED (exit $rc) after ${execs:-?} execs in ${took}s; log: $log"
    grep -E '==fuzz==|ERROR: |runtime error|SUMMARY|Test unit written to' "$log" | head -n 12 | sed 's/^/fuzz:   /'
    trap - EXIT # keep the log
  fi
done
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
  echo "fuzz: grown corpora kept in $WORK"
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
