#!/usr/bin/env bash
# kafka-consumer-groups.sh: list, describe, delete and reset consumer groups, served by `kzoo consumer-groups`.
# Finds kzoo next to this script (following symlinks), so the home can be copied anywhere.
src="${BASH_SOURCE[0]}"
while [ -L "$src" ]; do
  dir="$(cd -P "$(dirname "$src")" && pwd)"
  src="$(readlink "$src")"
  case "$src" in /*) ;; *) src="$dir/$src" ;; esac
done
bin="$(cd -P "$(dirname "$src")" && pwd)"
exec "$bin/kzoo" consumer-groups "$@"
