#!/bin/sh
# Runs one fuzz harness once over every file of its committed corpus, without fuzzing: libFuzzer
# executes inputs given as file arguments and writes nothing. Used by ctest (FORUMNET_FUZZ=ON).
# Usage: regress.sh <harness binary> <corpus dir>
set -eu
bin=$1
dir=$2
[ -d "$dir" ] || { echo "regress: no corpus directory $dir" >&2; exit 1; }
set -- "$dir"/*
[ -e "$1" ] || { echo "regress: $dir is empty" >&2; exit 1; }
echo "regress: $(basename "$bin") over $# files of $dir"
exec "$bin" -timeout=30 -rss_limit_mb=2048 "$@"
