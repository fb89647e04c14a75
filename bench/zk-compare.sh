#!/usr/bin/env bash
# zk-compare.sh: kzoo's coordinator against Apache ZooKeeper 3.8, side by side.
#
# Starts both standalone with fsync on (forceSync=yes), each on its own
# loopback port with its own temporary dataDir, runs zk-bench's phases against
# them interleaved ROUNDS times, keeps the best round of each, and prints the
# kzoo/ZooKeeper ratios (ops/s: above 1 means kzoo is faster; latency: below 1
# means kzoo is faster). Every process it starts is stopped by its PID on exit.
#
# Environment (defaults in brackets):
#   KZOO      kzoo binary [bin/kzoo, built if missing], run from a copy in the temp dir
#   ZKSERVER  Apache ZooKeeper's zkServer.sh [/usr/share/zookeeper/bin/zkServer.sh]
#   ROUNDS [5]  OPS [50000]  SESSIONS [16]  INFLIGHT [4]  VALUE_SIZE [100]
#   PHASES [create,set,get]  KEEP_WORK=1 keeps the temp dir (logs, data)
#   CLIENT [pipelined]  zk-bench's --client: pipelined (lean, asynchronous),
#          kzoo or go-zookeeper; the same client loads both servers
#
# zk-compare.sh --ensemble runs bench/zk-compare-ensemble.sh instead: both as
# 3-node ensembles, the same phases with sessions spread over the servers,
# and leader failover times (see that script for its settings).
set -euo pipefail

if [[ "${1:-}" == --ensemble ]]; then
	shift
	exec "$(dirname "$0")/zk-compare-ensemble.sh" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZKSERVER=${ZKSERVER:-/usr/share/zookeeper/bin/zkServer.sh}
ROUNDS=${ROUNDS:-5}
OPS=${OPS:-50000}
SESSIONS=${SESSIONS:-16}
INFLIGHT=${INFLIGHT:-4}
CLIENT=${CLIENT:-pipelined}
VALUE_SIZE=${VALUE_SIZE:-100}
PHASES=${PHASES:-create,set,get}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zk-compare.XXXXXX")
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n "${KEEP_WORK:-}" ]]; then
		echo "work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "zk-compare: $*" >&2; exit 1; }

# shellcheck source=bench/free_port.sh
source "$ROOT/bench/free_port.sh"

# wait_ruok polls the four-letter word ruok until the server answers imok.
wait_ruok() {
	local name=$1 port=$2 pid=$3 log=$4 ans
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "$name exited during startup (log: $log)"; }
		if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
			printf ruok >&3
			ans=$(timeout 2 head -c 4 <&3 || true)
			exec 3<&- 3>&-
			[[ "$ans" == imok ]] && return 0
		fi
		sleep 0.2
	done
	tail -20 "$log" >&2
	die "$name on 127.0.0.1:$port did not answer ruok within 60s (log: $log)"
}

write_cfg() { # dir port
	mkdir -p "$1/data"
	cat >"$1/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
forceSync=yes
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
CFG
}

[[ -x "$ZKSERVER" ]] || die "Apache ZooKeeper not found at $ZKSERVER (apt-get install zookeeper)"
command -v java >/dev/null || die "java is needed for Apache ZooKeeper"

# kzoo runs from a copy in a home of its own under $WORK: a coordinator
# registers its pid in <home>/logs, and nothing of a run may be left in the
# checkout.
KZOO_SRC=${KZOO:-$ROOT/bin/kzoo}
KZOO=$WORK/home/bin/kzoo
mkdir -p "$WORK/home/bin"
if [[ -x "$KZOO_SRC" ]]; then
	cp "$KZOO_SRC" "$KZOO"
else
	echo "building kzoo into $KZOO" >&2
	(cd "$ROOT" && go build -o "$KZOO" ./cli/kzoo) || die "cannot build ./cli/kzoo"
fi
"$KZOO" keeper --help >/dev/null 2>&1 || die "$KZOO has no 'keeper' command yet"

if "$KZOO" zk-bench --help >/dev/null 2>&1; then
	BENCH=("$KZOO" zk-bench)
else
	(cd "$ROOT" && go build -o "$WORK/zk-bench" ./cli/zkbench/cmd/zk-bench) || die "cannot build zk-bench"
	BENCH=("$WORK/zk-bench")
fi

free_port ZK_PORT
free_port KZ_PORT
write_cfg "$WORK/zk" "$ZK_PORT"
write_cfg "$WORK/kzoo" "$KZ_PORT"

# zkServer.sh start-foreground execs java, so $! is the server's own PID.
ZOO_LOG_DIR="$WORK/zk" JVMFLAGS="${JVMFLAGS:--Xmx1g}" \
	"$ZKSERVER" start-foreground "$WORK/zk/zoo.cfg" >"$WORK/zk/server.log" 2>&1 &
ZK_PID=$!
PIDS+=("$ZK_PID")
"$KZOO" keeper start-foreground "$WORK/kzoo/zoo.cfg" >"$WORK/kzoo/server.log" 2>&1 &
KZ_PID=$!
PIDS+=("$KZ_PID")

wait_ruok ZooKeeper "$ZK_PORT" "$ZK_PID" "$WORK/zk/server.log"
wait_ruok kzoo "$KZ_PORT" "$KZ_PID" "$WORK/kzoo/server.log"
echo "ZooKeeper pid $ZK_PID on 127.0.0.1:$ZK_PORT, kzoo pid $KZ_PID on 127.0.0.1:$KZ_PORT; work dir $WORK" >&2

RESULTS=$WORK/results.txt
: >"$RESULTS"
run_one() { # name port round
	local out
	out=$("${BENCH[@]}" --servers "127.0.0.1:$2" --client "$CLIENT" --sessions "$SESSIONS" --inflight "$INFLIGHT" \
		--value-size "$VALUE_SIZE" --ops "$OPS" --phases "$PHASES") || die "zk-bench against $1 failed: $out"
	echo "$out" | sed -n "s/^phase=/round=$3 server=$1 phase=/p" | tee -a "$RESULTS" >&2
}

for round in $(seq "$ROUNDS"); do
	if ((round % 2)); then
		run_one zookeeper "$ZK_PORT" "$round"
		run_one kzoo "$KZ_PORT" "$round"
	else
		run_one kzoo "$KZ_PORT" "$round"
		run_one zookeeper "$ZK_PORT" "$round"
	fi
done

# Best of each: highest ops/s, lowest p50 and p99 over the rounds.
awk -v phases="$PHASES" '
function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } }
{
	key = val("server") SUBSEP val("phase")
	ops = val("ops_per_sec") + 0; p50 = val("p50_ms") + 0; p99 = val("p99_ms") + 0
	if (!(key in best) || ops > best[key]) best[key] = ops
	if (!(key in b50) || p50 < b50[key]) b50[key] = p50
	if (!(key in b99) || p99 < b99[key]) b99[key] = p99
}
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
END {
	printf "%-7s %12s %12s %7s   %9s %9s %7s   %9s %9s %7s\n", "phase", "kzoo ops/s", "zk ops/s", "ratio", "kzoo p50", "zk p50", "ratio", "kzoo p99", "zk p99", "ratio"
	n = split(phases, ph, ",")
	for (i = 1; i <= n; i++) {
		k = "kzoo" SUBSEP ph[i]; z = "zookeeper" SUBSEP ph[i]
		printf "%-7s %12.0f %12.0f %7s   %7.2fms %7.2fms %7s   %7.2fms %7.2fms %7s\n", ph[i], best[k], best[z], ratio(best[k], best[z]), b50[k], b50[z], ratio(b50[k], b50[z]), b99[k], b99[z], ratio(b99[k], b99[z])
	}
}' "$RESULTS"
