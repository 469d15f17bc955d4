#!/usr/bin/env bash
# Fan-out bench (issue 15): N loopback MS-WMSP players of a ~1.1 Mbit/s WMV2/WMA2 stream,
# served by `wmpush serve` (fed by `wmpush push --loop`) and by VLC 3's MMSH server
# (`cvlc --loop F --sout '#std{access=mmsh,mux=asfh,dst=...}'`, run as nobody), alternated
# in the same run. The players are `wmpush pull --clients N --json` (push-protocol's pull
# client in counting mode: payloads skipped uncopied, one read buffer per thread); its own
# CPU is measured and printed beside the server's.
#
# Usage: bash bench/fanout.sh [PLAYERS...]      e.g. bash bench/fanout.sh 1000 3000 6000 10000
# Env:   SECONDS_RUN (30), RAMP (5), ROUNDS (1), SERVERS ("wmpush vlc"),
#        SERVER_CPUS / GEN_CPUS: pin the server (and its encoder) / the load generator with
#        taskset, e.g. SERVER_CPUS=0 GEN_CPUS=1 to drive a one-core server past its capacity.
# Prints one line per run and, per player count and server, the median over rounds:
#   cores         server CPU (user+sys) over the steady window (after the ramp), in cores
#   core/Gbit/s   that CPU divided by the Gbit/s the players received
#   KiB/player    server RSS growth (after the ramp, over the idle server) per admitted player
#   continuous    admitted players with no stall over 2 s / players started
#   refused       players answered 503
#   first p50/p99 time from a player's start to its first media packet, ms
#   gen cores     the load generator's own CPU over the whole run
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYER_COUNTS=("${@:-1000}")
SECONDS_RUN="${SECONDS_RUN:-30}"
RAMP="${RAMP:-5}"
ROUNDS="${ROUNDS:-1}"
SERVERS="${SERVERS:-wmpush vlc}"
WORK="$(mktemp -d)"
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && pkill -TERM -P "$p" 2>/dev/null || true
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
pin() { # pin CPUS CMD... &: becomes CMD on CPUS (all CPUs when empty); only ever run with &,
  # so the exec replaces the background subshell and $! is CMD's pid.
  local cpus="$1"; shift
  if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

cargo build --release -q -p wmpush
BIN="$PWD/target/release/wmpush"
MEDIA="$WORK/wmv2_wma2_1mbit_60s.asf"
# 60 s of 640x480@25 with noise (so WMV2 really spends its 900 kbit/s) + WMA2 128 kbit/s.
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc=size=640x480:rate=25:duration=60,noise=alls=30:allf=t" \
  -f lavfi -i sine=frequency=1000:sample_rate=44100:duration=60 \
  -c:v wmv2 -b:v 900k -g 50 -c:a wmav2 -b:a 128k -ac 2 -f asf "$MEDIA"
chmod 644 "$MEDIA"
cat > "$WORK/serve.toml" <<EOF
[server]
max_connections = 30000
max_players = 30000
[default_template]
allow_create = true
max_players = 30000
EOF

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }  # utime+stime, clock ticks
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
HZ="$(getconf CLK_TCK)"

# measure WHO PID URL N -> one result line
measure() {
  local who="$1" pid="$2" url="$3" n="$4"
  local rss0 t0 t1 rss1 w0 w1
  rss0="$(rss_kib "$pid")"
  pin "${GEN_CPUS:-}" /usr/bin/time -f "%U %S %e" -o "$WORK/gen.time" \
    "$BIN" pull "$url" --clients "$n" --ramp "$RAMP" --duration "$SECONDS_RUN" --json \
    > "$WORK/gen.json" 2> "$WORK/gen.err" &
  local gp=$!
  sleep "$RAMP"; sleep 1
  t0="$(ticks "$pid")"; w0="$(date +%s.%N)"
  sleep $((SECONDS_RUN - RAMP - 3))
  t1="$(ticks "$pid")"; w1="$(date +%s.%N)"
  rss1="$(rss_kib "$pid")"
  wait "$gp" || true
  python3 - "$who" "$n" "$t0" "$t1" "$w0" "$w1" "$HZ" "$rss0" "$rss1" "$WORK/gen.json" "$WORK/gen.time" <<'PY'
import json, sys
who, n, t0, t1, w0, w1, hz, rss0, rss1, rep, tim = sys.argv[1:]
n = int(n); hz = float(hz)
cores = (float(t1) - float(t0)) / hz / (float(w1) - float(w0))
try:
    r = json.load(open(rep))
except Exception as e:
    print(f"{who} {n} ERROR generator report unreadable: {e}"); sys.exit(0)
u, s, e = (float(x) for x in open(tim).read().split()[-3:])
gbit = r["mean_kbit_s"] * r["played"] / 1e6
per_gbit = cores / gbit if gbit > 0 else float("nan")
kib = (int(rss1) - int(rss0)) / max(r["played"], 1)
print(f"{who} {n} cores={cores:.3f} core/Gbit/s={per_gbit:.3f} KiB/player={kib:.1f} "
      f"continuous={r['continuous']}/{n} played={r['played']} refused={r['refused']} failed={r['failed']} "
      f"first_p50={r['first_packet_ms']['p50']} first_p99={r['first_packet_ms']['p99']} "
      f"stall_max={r['longest_stall_ms']['max']} kbit/s={r['mean_kbit_s']:.0f} gbit/s={gbit:.2f} "
      f"gen_cores={(u + s) / e:.3f}" + (f" first_error={r['errors'][0]!r}" if r["errors"] else ""))
PY
}

run_wmpush() {
  local n="$1" port=$((20000 + RANDOM % 20000))
  pin "${SERVER_CPUS:-}" "$BIN" serve --listen "127.0.0.1:$port" --config "$WORK/serve.toml" > "$WORK/serve.log" 2>&1 &
  local sp=$!; PIDS+=("$sp")
  sleep 1
  pin "${SERVER_CPUS:-}" "$BIN" push --loop "$MEDIA" "http://127.0.0.1:$port/live" > "$WORK/push.log" 2>&1 &
  local pp=$!; PIDS+=("$pp")
  sleep 4
  measure wmpush "$sp" "mmsh://127.0.0.1:$port/live" "$n"
  kill -TERM "$pp" "$sp" 2>/dev/null || true
  wait "$pp" "$sp" 2>/dev/null || true
}

run_vlc() {
  local n="$1" port=$((20000 + RANDOM % 20000))
  mkdir -p "$WORK/vlchome"; chmod 777 "$WORK/vlchome"
  pin "${SERVER_CPUS:-}" runuser -u nobody -- bash -c "ulimit -n $(ulimit -n); exec env HOME=$WORK/vlchome cvlc -q --intf dummy --loop $MEDIA \
    --sout '#std{access=mmsh,mux=asfh,dst=127.0.0.1:$port}'" > "$WORK/vlc.log" 2>&1 &
  local ru=$!; PIDS+=("$ru")
  sleep 4
  local vp; vp="$(pgrep -f "dst=127.0.0.1:$port" | sort -n | tail -1)"
  measure vlc "$vp" "mmsh://127.0.0.1:$port/" "$n"
  kill -TERM "$vp" 2>/dev/null || true
  wait "$ru" 2>/dev/null || true
}

results="$WORK/results"
: > "$results"
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); $(runuser -u nobody -- cvlc --version 2>/dev/null | head -1)"
echo "stream: $(( $(stat -c %s "$MEDIA") * 8 / 60000 )) kbit/s; ${SECONDS_RUN} s per run, ${RAMP} s ramp"
for n in "${PLAYER_COUNTS[@]}"; do
  for round in $(seq 1 "$ROUNDS"); do
    for who in $SERVERS; do
      "run_$who" "$n" | tee -a "$results"
      sleep 2
    done
  done
done

echo
echo "medians over $ROUNDS round(s):"
python3 - "$results" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 3 or "ERROR" in parts:
        continue
    rows[(parts[0], int(parts[1]))].append(dict(p.split("=", 1) for p in parts[2:] if "=" in p and not p.startswith("first_error")))
for (who, n), runs in sorted(rows.items(), key=lambda k: (k[0][1], k[0][0])):
    med = lambda k: statistics.median(float(r[k].split("/")[0]) for r in runs)
    print(f"{who:6} {n:6} players: {med('cores'):.3f} cores, {med('core/Gbit/s'):.3f} core/Gbit/s, "
          f"{med('KiB/player'):.1f} KiB/player, continuous {med('continuous'):.0f}/{n}, refused {med('refused'):.0f}, "
          f"first byte p50 {med('first_p50'):.0f} ms p99 {med('first_p99'):.0f} ms, generator {med('gen_cores'):.3f} cores")
PY
