#!/usr/bin/env bash
# zk-compare-ensemble.sh (also `zk-compare.sh --ensemble`): 3-node kzoo
# against a 3-node Apache ZooKeeper 3.8 ensemble, side by side.
#
# For each system in turn (only one ensemble runs at a time, so they do not
# share the CPU), it starts three servers on loopback ports (tickTime=2000,
# forceSync=yes, each with its own dataDir and myid), waits for one leader and
# two followers (srvr), runs zk-bench's phases ROUNDS times with the sessions
# spread evenly over the three servers (--spread) and keeps the best round,
# then runs zk-bench --failover: kill -9 the leader while writing, time until
# the first write issued after the kill is acknowledged, FAILOVER_ROUNDS
# times (the writer reconnects with a 10ms pause per pass over the servers,
# not go-zookeeper's one second, so the time is the ensemble's). It prints kzoo/ZooKeeper ratios (ops/s: above 1 means kzoo is
# faster; latency and failover time: below 1 means kzoo is faster). Every
# process it starts is stopped by the PID in its pid file on exit.
#
# Environment (defaults in brackets):
#   KZOO      kzoo binary [built from this checkout], run from a copy in the temp dir
#   ZKSERVER  Apache ZooKeeper's zkServer.sh [/usr/share/zookeeper/bin/zkServer.sh]
#   SYSTEMS [zookeeper kzoo]  ROUNDS [3]  OPS [20000]  SESSIONS [16]  INFLIGHT [4]
#   CLIENT [pipelined]  zk-bench's --client (pipelined, kzoo or go-zookeeper)
#   VALUE_SIZE [100]  PHASES [create,set,get]  FAILOVER_ROUNDS [5]  TICK_MS [2000]
#   KEEP_WORK=1 keeps the temp dir (logs, data)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZKSERVER=${ZKSERVER:-/usr/share/zookeeper/bin/zkServer.sh}
SYSTEMS=${SYSTEMS:-zookeeper kzoo}
ROUNDS=${ROUNDS:-3}
OPS=${OPS:-20000}
SESSIONS=${SESSIONS:-16}
INFLIGHT=${INFLIGHT:-4}
CLIENT=${CLIENT:-pipelined}
VALUE_SIZE=${VALUE_SIZE:-100}
PHASES=${PHASES:-create,set,get}
FAILOVER_ROUNDS=${FAILOVER_ROUNDS:-5}
TICK_MS=${TICK_MS:-2000}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zk-compare-ensemble.XXXXXX")

# stop_pidfile kills the server a pid file names: TERM, then KILL.
stop_pidfile() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	[[ -n "$pid" ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

stop_system() { # sys
	local f
	for f in "$WORK/$1"/s*/pid; do
		[[ -e "$f" ]] && stop_pidfile "$f"
	done
	return 0
}

cleanup() {
	local sys
	for sys in $SYSTEMS; do stop_system "$sys"; done
	if [[ -n "${KEEP_WORK:-}" ]]; then
		echo "work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "zk-compare-ensemble: $*" >&2; exit 1; }

# shellcheck source=bench/free_port.sh
source "$ROOT/bench/free_port.sh"

# srvr_mode prints the Mode: of the server on a port, or nothing.
srvr_mode() {
	local ans
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
	printf srvr >&3
	ans=$(timeout 2 cat <&3 || true)
	exec 3<&- 3>&-
	sed -n 's/^Mode: //p' <<<"$ans"
}

# wait_quorum waits until the three servers of sys show one leader and two
# followers.
wait_quorum() { # sys
	local sys=$1 i modes
	for _ in $(seq 600); do
		modes=""
		for i in 1 2 3; do modes+="$(srvr_mode "${CPORT[$sys$i]}") "; done
		if [[ $(grep -o leader <<<"$modes" | wc -l) == 1 && $(grep -o follower <<<"$modes" | wc -l) == 2 ]]; then
			echo "$sys ensemble serving: $modes" >&2
			return 0
		fi
		for i in 1 2 3; do
			local pid
			pid=$(cat "$WORK/$sys/s$i/pid" 2>/dev/null || true)
			if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
				tail -5 "$WORK/$sys/s$i/server.log" >&2
				die "$sys server $i exited during startup (log: $WORK/$sys/s$i/server.log)"
			fi
		done
		sleep 0.2
	done
	die "$sys ensemble did not elect a leader within 120s (modes: $modes; logs under $WORK/$sys)"
}

declare -A CPORT QPORT EPORT

# setup_system writes three zoo.cfg files, myid files and start scripts.
setup_system() { # sys
	local sys=$1 i j dir
	for i in 1 2 3; do
		free_port "CPORT[$sys$i]"
		free_port "QPORT[$sys$i]"
		free_port "EPORT[$sys$i]"
	done
	for i in 1 2 3; do
		dir=$WORK/$sys/s$i
		mkdir -p "$dir/data"
		echo "$i" >"$dir/data/myid"
		{
			echo "tickTime=$TICK_MS"
			echo "initLimit=10"
			echo "syncLimit=5"
			echo "dataDir=$dir/data"
			echo "clientPort=${CPORT[$sys$i]}"
			echo "clientPortAddress=127.0.0.1"
			echo "forceSync=yes"
			echo "maxClientCnxns=0"
			echo "admin.enableServer=false"
			echo "4lw.commands.whitelist=*"
			for j in 1 2 3; do
				echo "server.$j=127.0.0.1:${QPORT[$sys$j]}:${EPORT[$sys$j]};127.0.0.1:${CPORT[$sys$j]}"
			done
		} >"$dir/zoo.cfg"
		# start.sh runs the server in the background (its own PID: both
		# commands exec the server) and records the PID.
		if [[ $sys == zookeeper ]]; then
			cat >"$dir/start.sh" <<SH
#!/usr/bin/env bash
ZOO_LOG_DIR="$dir" JVMFLAGS="\${JVMFLAGS:--Xmx1g}" nohup "$ZKSERVER" start-foreground "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
echo \$! >"$dir/pid"
SH
		else
			cat >"$dir/start.sh" <<SH
#!/usr/bin/env bash
nohup "$KZOO" keeper start-foreground "$dir/zoo.cfg" >>"$dir/server.log" 2>&1 </dev/null &
echo \$! >"$dir/pid"
SH
		fi
		chmod +x "$dir/start.sh"
	done
}

servers_of() { # sys
	echo "127.0.0.1:${CPORT[${1}1]},127.0.0.1:${CPORT[${1}2]},127.0.0.1:${CPORT[${1}3]}"
}

for sys in $SYSTEMS; do
	case $sys in
	zookeeper)
		[[ -x "$ZKSERVER" ]] || die "Apache ZooKeeper not found at $ZKSERVER (apt-get install zookeeper)"
		command -v java >/dev/null || die "java is needed for Apache ZooKeeper"
		;;
	kzoo) ;;
	*) die "SYSTEMS: unknown system $sys (want zookeeper, kzoo)" ;;
	esac
done

# A kzoo binary left in bin/ may predate ensemble mode: build from source
# unless KZOO names one. It runs from a home of its own under $WORK: each
# coordinator registers its pid in <home>/logs, and the failover rounds'
# kill -9 leaves those entries behind, which must not land in the checkout.
mkdir -p "$WORK/home/bin"
if [[ -n "${KZOO:-}" ]]; then
	cp "$KZOO" "$WORK/home/bin/kzoo" || die "cannot copy $KZOO"
else
	echo "building kzoo into $WORK/home/bin/kzoo" >&2
	(cd "$ROOT" && go build -o "$WORK/home/bin/kzoo" ./cli/kzoo) || die "cannot build ./cli/kzoo"
fi
KZOO=$WORK/home/bin/kzoo
if "$KZOO" zk-bench --help 2>/dev/null | grep -q -- --failover; then
	BENCH=("$KZOO" zk-bench)
else
	(cd "$ROOT" && go build -o "$WORK/zk-bench" ./cli/zkbench/cmd/zk-bench) || die "cannot build zk-bench"
	BENCH=("$WORK/zk-bench")
fi

RESULTS=$WORK/results.txt
: >"$RESULTS"
for sys in $SYSTEMS; do
	setup_system "$sys"
	for i in 1 2 3; do "$WORK/$sys/s$i/start.sh"; done
	wait_quorum "$sys"
	servers=$(servers_of "$sys")
	for round in $(seq "$ROUNDS"); do
		out=$("${BENCH[@]}" --servers "$servers" --spread --client "$CLIENT" --sessions "$SESSIONS" --inflight "$INFLIGHT" \
			--value-size "$VALUE_SIZE" --ops "$OPS" --phases "$PHASES") || die "zk-bench against the $sys ensemble failed: $out"
		echo "$out" | sed -n "s/^phase=/round=$round server=$sys phase=/p" | tee -a "$RESULTS" >&2
	done
	out=$("${BENCH[@]}" --servers "$servers" --failover --rounds "$FAILOVER_ROUNDS" \
		--kill-cmd "kill -9 \$(cat '$WORK/$sys'/s\$ZKBENCH_SERVER_ID/pid)" \
		--start-cmd "'$WORK/$sys'/s\$ZKBENCH_SERVER_ID/start.sh") || die "zk-bench --failover against the $sys ensemble failed: $out"
	echo "$out" | grep '^failover' >&2
	echo "$out" | sed -n "s/^failover rounds=/server=$sys phase=failover rounds=/p" >>"$RESULTS"
	stop_system "$sys"
done

awk -v phases="$PHASES" '
function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } }
function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
val("phase") == "failover" {
	s = val("server"); fmin[s] = val("min_ms"); fmed[s] = val("median_ms"); fmax[s] = val("max_ms"); next
}
{
	key = val("server") SUBSEP val("phase")
	ops = val("ops_per_sec") + 0; p50 = val("p50_ms") + 0; p99 = val("p99_ms") + 0
	if (!(key in best) || ops > best[key]) best[key] = ops
	if (!(key in b50) || p50 < b50[key]) b50[key] = p50
	if (!(key in b99) || p99 < b99[key]) b99[key] = p99
}
END {
	print "3-node ensembles, sessions spread over the servers (best of rounds)"
	printf "%-7s %12s %12s %7s   %9s %9s %7s   %9s %9s %7s\n", "phase", "kzoo ops/s", "zk ops/s", "ratio", "kzoo p50", "zk p50", "ratio", "kzoo p99", "zk p99", "ratio"
	n = split(phases, ph, ",")
	for (i = 1; i <= n; i++) {
		k = "kzoo" SUBSEP ph[i]; z = "zookeeper" SUBSEP ph[i]
		printf "%-7s %12.0f %12.0f %7s   %7.2fms %7.2fms %7s   %7.2fms %7.2fms %7s\n", ph[i], best[k], best[z], ratio(best[k], best[z]), b50[k], b50[z], ratio(b50[k], b50[z]), b99[k], b99[z], ratio(b99[k], b99[z])
	}
	print ""
	print "leader kill -9 to first acknowledged write issued after it"
	printf "%-7s %12s %12s %7s\n", "", "kzoo", "zk", "ratio"
	printf "%-7s %10.0fms %10.0fms %7s\n", "min", fmin["kzoo"], fmin["zookeeper"], ratio(fmin["kzoo"], fmin["zookeeper"])
	printf "%-7s %10.0fms %10.0fms %7s\n", "median", fmed["kzoo"], fmed["zookeeper"], ratio(fmed["kzoo"], fmed["zookeeper"])
	printf "%-7s %10.0fms %10.0fms %7s\n", "max", fmax["kzoo"], fmax["zookeeper"], ratio(fmax["kzoo"], fmax["zookeeper"])
}' "$RESULTS"
