#!/usr/bin/env bash
# kafka-consumer-perf-test.sh: consumer throughput test, served by `kzoo consumer-perf-test`.
# Finds kzoo next to this script (following symlinks), so the home can be copied anywhere.
src="${BASH_SOURCE[0]}"
while [ -L "$src" ]; do
  dir="$(cd -P "$(dirname "$src")" && pwd)"
  src="$(readlink "$src")"
  case "$src" in /*) ;; *) src="$dir/$src" ;; esac
done
bin="$(cd -P "$(dirname "$src")" && pwd)"
exec "$bin/kzoo" consumer-perf-test "$@"
