#!/usr/bin/env bash
# kafka-reassign-partitions.sh: move partition replicas between brokers, served by `kzoo reassign-partitions`.
# Finds kzoo next to this script (following symlinks), so the home can be copied anywhere.
src="${BASH_SOURCE[0]}"
while [ -L "$src" ]; do
  dir="$(cd -P "$(dirname "$src")" && pwd)"
  src="$(readlink "$src")"
  case "$src" in /*) ;; *) src="$dir/$src" ;; esac
done
bin="$(cd -P "$(dirname "$src")" && pwd)"
exec "$bin/kzoo" reassign-partitions "$@"
