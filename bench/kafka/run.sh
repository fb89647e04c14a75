#!/usr/bin/env bash
# run.sh [kafka-bench flags…]: kzoo's brokers against franz-go's kfake.
#
# Starts 1 kzoo coordinator and 3 kzoo brokers on 127.0.0.1 (free ports,
# every file in a temporary directory), runs bench/kafka against them
# interleaved with kfake clusters (one in a process of its own, one inside
# the load generator), prints the kzoo/kfake ratios and the CPU each side
# used per record (the kzoo figure covers the coordinator and the brokers),
# and stops every process it started by its PID (brokers first, with a
# controlled shutdown, then the coordinator).
#
# Environment (defaults in brackets):
#   KZOO       kzoo binary [dist/kzoo/bin/kzoo, else built into the temp dir]
#   KEEP_WORK  set to keep the temp dir (logs, data)
#   WAIT_SECONDS [30] how long each server may take to open its port
# Flags after the script name go to kafka-bench, e.g. --records 200000 --rounds 3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WAIT_SECONDS=${WAIT_SECONDS:-30}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kafka-bench.XXXXXX")
PIDS=()
NAMES=()

cleanup() {
	local i pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[$i]}
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			if kill -0 "$pid" 2>/dev/null; then
				echo "run.sh: ${NAMES[$i]} (pid $pid) ignored SIGTERM for 15 s; killing it" >&2
				kill -9 "$pid" 2>/dev/null || true
			fi
		fi
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n "${KEEP_WORK:-}" ]]; then
		echo "run.sh: work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# shellcheck source=bench/free_port.sh
source "$ROOT/bench/free_port.sh"

# wait_port NAME PID PORT LOG
wait_port() {
	local deadline=$((SECONDS + WAIT_SECONDS))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$2" 2>/dev/null; then
			echo "run.sh: $1 exited: $(tail -n 3 "$4")" >&2
			return 1
		fi
		port_open "$3" && return 0
		sleep 0.2
	done
	echo "run.sh: $1 did not open port $3 within ${WAIT_SECONDS}s (see $4)" >&2
	return 1
}

KZOO=${KZOO:-$ROOT/dist/kzoo/bin/kzoo}
if [[ ! -x "$KZOO" ]]; then
	echo "run.sh: $KZOO is missing; building kzoo into $WORK" >&2
	(cd "$ROOT" && go build -o "$WORK/kzoo" ./cli/kzoo)
	KZOO=$WORK/kzoo
fi
(cd "$ROOT" && go build -o "$WORK/kafka-bench" ./bench/kafka)

free_port zk_port
mkdir -p "$WORK/zk" "$WORK/logs"
cat >"$WORK/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$WORK/zk
clientPort=$zk_port
clientPortAddress=127.0.0.1
EOF
"$KZOO" keeper start-foreground "$WORK/zoo.cfg" >"$WORK/logs/zk.log" 2>&1 </dev/null &
PIDS+=($!)
NAMES+=("coordinator")
wait_port coordinator "${PIDS[0]}" "$zk_port" "$WORK/logs/zk.log"

bootstrap=""
for b in 0 1 2; do
	free_port port
	mkdir -p "$WORK/kafka-logs-$b"
	cat >"$WORK/server-$b.properties" <<EOF
broker.id=$b
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$WORK/kafka-logs-$b
zookeeper.connect=127.0.0.1:$zk_port/kafka
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=3
EOF
	"$KZOO" broker start "$WORK/server-$b.properties" >"$WORK/logs/broker-$b.log" 2>&1 </dev/null &
	PIDS+=($!)
	NAMES+=("broker $b")
	wait_port "broker $b" "${PIDS[-1]}" "$port" "$WORK/logs/broker-$b.log"
	bootstrap+="${bootstrap:+,}127.0.0.1:$port"
done
echo "run.sh: coordinator on 127.0.0.1:$zk_port, brokers at $bootstrap (files in $WORK)"

pids=$(IFS=,; echo "${PIDS[*]}")
"$WORK/kafka-bench" --bootstrap-server "$bootstrap" --server-pids "$pids" "$@"
