#!/usr/bin/env bash
# run-local.sh HOME RUNDIR: start a local kzoo cluster from the dist home
# HOME (dist/kzoo) with every file under RUNDIR (./run): 3 coordinators as
# an ensemble and 3 brokers, all on 127.0.0.1. It says exactly what it
# started, prints the connection strings, and on Ctrl-C stops every process
# it started, by PID.
#
# Ports: coordinators ZK_BASE+1..3 (client), QUORUM_BASE/ELECTION_BASE+1..3;
# brokers KAFKA_BASE+0..2. Override with the environment variables below.
set -uo pipefail
# Each child in its own process group: Ctrl-C reaches only this script,
# which then stops brokers before the coordinators they depend on.
set -m

home="${1:?usage: run-local.sh DIST_HOME RUN_DIR}"
run="${2:?usage: run-local.sh DIST_HOME RUN_DIR}"
kzoo="$home/bin/kzoo"
ZK_BASE="${ZK_BASE:-2180}"
QUORUM_BASE="${QUORUM_BASE:-2887}"
ELECTION_BASE="${ELECTION_BASE:-3887}"
KAFKA_BASE="${KAFKA_BASE:-9092}"
WAIT_SECONDS="${WAIT_SECONDS:-30}"

[ -x "$kzoo" ] || { echo "run-local: $kzoo is missing; run make dist" >&2; exit 1; }
mkdir -p "$run/logs"

pids=()
names=()
stop_all() {
  trap - INT TERM EXIT
  local i
  echo
  # Newest first: brokers (each after a controlled shutdown), then coordinators.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "run-local: stopping ${names[$i]} (pid ${pids[$i]})"
      kill -TERM "${pids[$i]}" 2>/dev/null
      wait "${pids[$i]}" 2>/dev/null
    fi
  done
  echo "run-local: everything it started is stopped; data stays in $run"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port NAME PID PORT LOG: wait until PORT accepts, or PID dies.
wait_port() {
  local name="$1" pid="$2" port="$3" log="$4" deadline=$((SECONDS + WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run-local: $name exited: $(tail -n 1 "$log")" >&2
      return 1
    fi
    port_open "$port" && return 0
    sleep 0.2
  done
  echo "run-local: $name did not open port $port within ${WAIT_SECONDS}s (see $log)" >&2
  return 1
}

# start NAME LOG CMD...: start CMD in the background, remember its PID.
start() {
  local name="$1" log="$2"
  shift 2
  "$@" >"$log" 2>&1 </dev/null &
  pids+=($!)
  names+=("$name")
}

for p in $((ZK_BASE + 1)) $((ZK_BASE + 2)) $((ZK_BASE + 3)) $KAFKA_BASE $((KAFKA_BASE + 1)) $((KAFKA_BASE + 2)); do
  if port_open "$p"; then
    echo "run-local: port $p on 127.0.0.1 is already in use; stop what holds it or set ZK_BASE/KAFKA_BASE" >&2
    exit 1
  fi
done

# --- coordinators -----------------------------------------------------------
write_zk() { # write_zk N ENSEMBLE(0|1)
  local n="$1" dir="$run/zk$1" cfg="$run/zoo$1.cfg"
  mkdir -p "$dir"
  {
    echo "# Written by run-local.sh: coordinator $n."
    echo "tickTime=2000"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$dir"
    echo "clientPort=$((ZK_BASE + n))"
    echo "clientPortAddress=127.0.0.1"
    echo "4lw.commands.whitelist=*"
    if [ "$2" = 1 ]; then
      for i in 1 2 3; do
        echo "server.$i=127.0.0.1:$((QUORUM_BASE + i)):$((ELECTION_BASE + i))"
      done
    fi
  } >"$cfg"
  if [ "$2" = 1 ]; then echo "$n" >"$dir/myid"; else rm -f "$dir/myid"; fi
}

zk_connect=""
zk_count=0
for n in 1 2 3; do write_zk "$n" 1; done
log="$run/logs/zk1.log"
start "coordinator 1" "$log" "$kzoo" keeper start-foreground "$run/zoo1.cfg"
ensemble=1
# An ensemble member does not listen for clients before a quorum exists, so
# start all three before waiting; a build without ensembles refuses at once.
sleep 1
if ! kill -0 "${pids[0]}" 2>/dev/null; then
  wait "${pids[0]}" 2>/dev/null
  reason="$(tail -n 1 "$log")"
  ensemble=0
  unset 'pids[0]' 'names[0]'
  pids=("${pids[@]}")
  names=("${names[@]}")
  echo "run-local: this kzoo build cannot run a coordinator ensemble ($reason)"
  echo "run-local: starting ONE standalone coordinator instead of 3"
fi

if [ "$ensemble" = 1 ]; then
  for n in 2 3; do
    start "coordinator $n" "$run/logs/zk$n.log" "$kzoo" keeper start-foreground "$run/zoo$n.cfg"
  done
  for n in 1 2 3; do
    wait_port "coordinator $n" "${pids[$((n - 1))]}" $((ZK_BASE + n)) "$run/logs/zk$n.log" || exit 1
  done
  zk_count=3
  zk_connect="127.0.0.1:$((ZK_BASE + 1)),127.0.0.1:$((ZK_BASE + 2)),127.0.0.1:$((ZK_BASE + 3))"
else
  write_zk 1 0
  start "coordinator 1" "$log" "$kzoo" keeper start-foreground "$run/zoo1.cfg"
  wait_port "coordinator 1" "${pids[0]}" $((ZK_BASE + 1)) "$log" || exit 1
  zk_count=1
  zk_connect="127.0.0.1:$((ZK_BASE + 1))"
fi
echo "run-local: started $zk_count coordinator(s): $(for n in $(seq 1 $zk_count); do printf '%s ' "$run/zoo$n.cfg"; done)"

# --- brokers ----------------------------------------------------------------
bootstrap=""
broker_count=0
if "$kzoo" broker --help >/dev/null 2>&1; then
  for b in 0 1 2; do
    props="$run/server-$b.properties"
    mkdir -p "$run/kafka-logs-$b"
    cat >"$props" <<EOF
# Written by run-local.sh: broker $b.
broker.id=$b
listeners=PLAINTEXT://127.0.0.1:$((KAFKA_BASE + b))
advertised.listeners=PLAINTEXT://127.0.0.1:$((KAFKA_BASE + b))
log.dirs=$run/kafka-logs-$b
zookeeper.connect=$zk_connect
num.partitions=3
default.replication.factor=3
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
EOF
    start "broker $b" "$run/logs/broker-$b.log" "$kzoo" broker start "$props"
  done
  ok=1
  for b in 0 1 2; do
    idx=$((zk_count + b))
    wait_port "broker $b" "${pids[$idx]}" $((KAFKA_BASE + b)) "$run/logs/broker-$b.log" || ok=0
  done
  [ "$ok" = 1 ] || exit 1
  broker_count=3
  bootstrap="127.0.0.1:$KAFKA_BASE,127.0.0.1:$((KAFKA_BASE + 1)),127.0.0.1:$((KAFKA_BASE + 2))"
else
  echo "run-local: this kzoo build has no broker command; NO brokers started"
fi

echo
echo "kzoo local cluster: $zk_count coordinator(s), $broker_count broker(s); data and logs in $run"
echo "  zookeeper.connect=$zk_connect"
echo "  bin/zkCli.sh -server $zk_connect"
if [ -n "$bootstrap" ]; then
  echo "  --bootstrap-server $bootstrap"
fi
echo "Press Ctrl-C to stop everything."
while :; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "run-local: ${names[$i]} (pid ${pids[$i]}) exited; stopping the rest" >&2
      exit 1
    fi
  done
  sleep 1
done
