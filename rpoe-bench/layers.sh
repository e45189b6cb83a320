#!/bin/bash
# Side-by-side: rpoe-echo (kernel layer) vs wheels_server vs component_server,
# and their tokio peers (the `read_until` server and `Framed`+`LinesCodec`,
# both benchmark-only, served by rpoe-bench itself): server CPU per line at
# C=50 P=16 L=64, server pinned to CPU 0, load generator to CPU 1. Each
# round ends with every server's CPU per line divided by rpoe-echo's (when
# "echo" is among SERVERS and comes first).
#
# Needs release builds: cargo build --release -p rpoe-echo -p rpoe-bench
#                       cargo build --release -p rpoe --examples
#
#   RUNS=3 DURATION=4   rounds of the throughput pass and seconds measured
#   IDLE=5000           also hold this many idle connections per server and
#                       report the server's resident bytes per connection
#                       (issue 12: at 5,000+); 0 or unset skips it
#   SERVERS="echo wheels component tokio tokio-framed"
B=${CARGO_TARGET_DIR:-target}/release
RUNS=${RUNS:-3}
DURATION=${DURATION:-4}
IDLE=${IDLE:-0}
SERVERS=${SERVERS:-echo wheels component tokio tokio-framed}
OUT=$(mktemp /tmp/layers.XXXXXX)
trap 'rm -f "$OUT"' EXIT
# The idle pass holds IDLE descriptors in the load generator and as many in
# the server (which inherits this limit).
need=$((IDLE * 2 + 256))
if [ "$IDLE" -gt 0 ] && [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $need ]; then
  ulimit -n $need 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

start() {
  case $1 in
    echo) taskset -c 0 $B/rpoe-echo --bind 127.0.0.1 --port 0 > $OUT 2>/dev/null & ;;
    wheels) BIND=127.0.0.1 taskset -c 0 $B/examples/wheels_server 0 > $OUT 2>/dev/null & ;;
    component) BIND=127.0.0.1 taskset -c 0 $B/examples/component_server 0 > $OUT 2>/dev/null & ;;
    tokio) taskset -c 0 $B/rpoe-bench serve-tokio --port 0 > $OUT 2>/dev/null & ;;
    tokio-framed) taskset -c 0 $B/rpoe-bench serve-tokio-framed --port 0 > $OUT 2>/dev/null & ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
  esac
  pid=$!
  # Up to 10 s: on a loaded machine a server can be slow to start.
  for i in $(seq 200); do grep -q listening $OUT && break; sleep 0.05; done
  addr=$(sed -n 's/listening on //p' $OUT | head -1)
  [ -n "$addr" ] || echo "$1: the server did not say where it listens" >&2
}

# Server CPU per line in ns, from the CPU seconds and the line count (the
# load generator's "us per echoed line" has two digits only, too coarse
# for the ratios the targets are stated in).
ns_per_line() {
  awk '/^lines:/ {n = $2} /server CPU:/ {c = $3} END {if (n > 0) printf "%.0f", c * 1e9 / n}'
}

for run in $(seq $RUNS); do
ratios=""
echo_ns=""
for srv in $SERVERS; do
  start $srv
  out=$(taskset -c 1 $B/rpoe-bench throughput --addr $addr --server-pid $pid --warmup 1 --duration $DURATION 2>&1)
  ns=$(echo "$out" | ns_per_line)
  echo "run $run $srv: $(echo "$out" | grep -iE "lines/s|cpu|other load" | tr -s ' ' | tr '\n' ' ')ns/line: $ns"
  [ "$srv" = echo ] && echo_ns=$ns
  [ -n "$echo_ns" ] && [ -n "$ns" ] && ratios="$ratios $srv $(awk -v a="$ns" -v b="$echo_ns" 'BEGIN {printf "%.3f", a / b}')"
  kill $pid; wait $pid 2>/dev/null
done
[ -n "$echo_ns" ] && echo "run $run server CPU per line / rpoe-echo's:$ratios"
done

if [ "$IDLE" -gt 0 ]; then
for srv in $SERVERS; do
  start $srv
  out=$(taskset -c 1 $B/rpoe-bench idle --addr $addr --server-pid $pid -c $IDLE 2>&1)
  echo "idle $srv: $(echo "$out" | grep -iE "server RSS|FAILED" | tr -s ' ')"
  kill $pid; wait $pid 2>/dev/null
done
fi
