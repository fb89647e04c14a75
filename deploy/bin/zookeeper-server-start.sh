#!/usr/bin/env bash
# zookeeper-server-start.sh: Kafka's way to start a coordinator, served by `kzoo keeper zookeeper-server-start`.
# Finds kzoo next to this script (following symlinks), so the home can be copied anywhere.
src="${BASH_SOURCE[0]}"
while [ -L "$src" ]; do
  dir="$(cd -P "$(dirname "$src")" && pwd)"
  src="$(readlink "$src")"
  case "$src" in /*) ;; *) src="$dir/$src" ;; esac
done
bin="$(cd -P "$(dirname "$src")" && pwd)"
exec "$bin/kzoo" keeper zookeeper-server-start "$@"
