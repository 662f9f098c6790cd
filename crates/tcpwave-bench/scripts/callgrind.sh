#!/usr/bin/env bash
# Instructions per lifecycle under valgrind's callgrind, for tcpwave and for smoltcp:
# deterministic for a given binary, so they can be compared from run to run whatever the
# machine's load (see docs/benchmarks.md).
#
#   crates/tcpwave-bench/scripts/callgrind.sh [LIFECYCLES] [ENGINES]   (default 10000 "tcpwave smoltcp")
#
# ENGINES: tcpwave, smoltcp (TCP checksums offloaded / ignored, as on their loopbacks) and
# tcpwave-checksums, smoltcp-checksums (computed and verified).
#
# Only `measured_<engine>` (N lifecycles after a warm-up) is counted (--toggle-collect). For
# tcpwave the warm-up reaches TIME_WAIT steady state (TIME_WAIT shortened to 1 s: instruction
# counts do not depend on the table's size). Prints Ir per lifecycle and the top functions by
# self cost (TOP=N); the raw profiles stay in $CARGO_TARGET_DIR/callgrind.<engine>.out.
#
# CACHE=1 also simulates a 32 KiB, 8-way L1 instruction cache (the benchmark machine's) and
# prints the code footprint of a lifecycle (distinct 64-byte lines executed) and the L1i
# misses per lifecycle, with the functions that touch the most lines (footprint.py).
#
# BREAKDOWN=1 (tcpwave engines) also counts, per lifecycle, the instructions spent inside each
# entry point of the engine (one valgrind run per entry point, --toggle-collect on it alone,
# so the count covers the warm-up lifecycles too and is divided by warm-up + N): packets
# sent, packets received, connect, send, recv, close, accept, timers; the rest is the driver.
set -euo pipefail
cd "$(dirname "$0")/../../.."
count=${1:-10000}
engines=${2:-tcpwave smoltcp}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --profile perf -q -p tcpwave-bench
bin="$CARGO_TARGET_DIR/perf/tcpwave-bench"
for engine in $engines; do
  out="$CARGO_TARGET_DIR/callgrind.$engine.out"
  cache_args=()
  if [ -n "${CACHE:-}" ]; then
    cache_args=(--dump-instr=yes --cache-sim=yes --I1=32768,8,64)
  fi
  valgrind --tool=callgrind --callgrind-out-file="$out" "${cache_args[@]}" \
    --toggle-collect="*measured_${engine%%-*}*" \
    "$bin" callgrind-lifecycles "$engine" "$count" >"$out.json" 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
  callgrind_annotate --inclusive=no "$out" >"$out.txt" 2>/dev/null
  total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$out.txt")
  if [ -z "$total" ]; then
    echo "callgrind.sh: no totals in $out" >&2
    exit 1
  fi
  echo "$engine lifecycle: $((total / count)) instructions (Ir) per lifecycle ($total over $count lifecycles)"
  if [ -n "${CACHE:-}" ]; then
    python3 crates/tcpwave-bench/scripts/footprint.py "$out" "$count" "${TOP:-10}"
  fi
  if [ -n "${BREAKDOWN:-}" ] && [ "${engine%%-*}" = tcpwave ]; then
    runs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["lifecycles"] + d["warmup"])' "$out.json")
    packets=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["packets"])' "$out.json")
    echo "  $((packets / runs)) packets per lifecycle; instructions per lifecycle inside each entry point:"
    for entry in "Endpoint::transmit_next|packets sent (poll_transmit)" \
      "Endpoint::handle_packet|packets received (handle_packet)" \
      "api::<impl tcpwave::endpoint::Endpoint>::connect|connect" \
      "api::<impl tcpwave::endpoint::Endpoint>::send|send" \
      "api::<impl tcpwave::endpoint::Endpoint>::recv|recv" \
      "api::<impl tcpwave::endpoint::Endpoint>::close|close" \
      "api::<impl tcpwave::endpoint::Endpoint>::accept|accept" \
      "Endpoint::handle_timeout|handle_timeout"; do
      pattern=${entry%%|*}
      label=${entry#*|}
      valgrind --tool=callgrind --callgrind-out-file="$out.entry" --toggle-collect="*$pattern*" \
        "$bin" callgrind-lifecycles "$engine" "$count" >/dev/null 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
      callgrind_annotate "$out.entry" >"$out.entry.txt" 2>/dev/null
      spent=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print ($1 == "." ? 0 : $1); exit}' "$out.entry.txt")
      printf '  %8d  %s\n' "$((${spent:-0} / runs))" "$label"
    done
    rm -f "$out.entry" "$out.entry.txt"
  fi
  if [ -n "${TOP:-}" ]; then
    sed -n '/^Ir/,$p' "$out.txt" | sed -n "6,$((TOP + 5))p" | cut -c1-160 || true
  fi
done
