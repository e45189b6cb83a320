#!/bin/bash
# Side-by-side: rpoe-echo (kernel layer) vs wheels_server vs component_server, C=50 P=16 L=64.
B=${CARGO_TARGET_DIR:-target}/release
for run in 1 2 3; do
for srv in echo wheels component; do
  case $srv in
    echo) taskset -c 0 $B/rpoe-echo --bind 127.0.0.1 --port 0 > /tmp/l.out 2>/dev/null & ;;
    wheels) BIND=127.0.0.1 taskset -c 0 $B/examples/wheels_server 0 > /tmp/l.out 2>/dev/null & ;;
    component) BIND=127.0.0.1 taskset -c 0 $B/examples/component_server 0 > /tmp/l.out 2>/dev/null & ;;
  esac
  pid=$!
  for i in $(seq 50); do grep -q listening /tmp/l.out && break; sleep 0.05; done
  addr=$(sed -n 's/listening on //p' /tmp/l.out | head -1)
  out=$(taskset -c 1 $B/rpoe-bench throughput --addr $addr --server-pid $pid --warmup 1 --duration 4 2>&1)
  echo "run $run $srv: $(echo "$out" | grep -iE "lines/s|cpu" | tr '\n' ' ')"
  kill $pid; wait $pid 2>/dev/null
done; done
