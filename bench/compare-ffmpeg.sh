#!/usr/bin/env bash
# Measures ffmpeg's ASF read and copy-mux throughput on a ~1 GB file and runs our criterion benches
# in the same run, so BENCHMARKS.md can put both figures side by side.
# Usage: bench/compare-ffmpeg.sh [runs]     (needs ffmpeg; writes into target/bench-media)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
MEDIA="${CARGO_TARGET_DIR:-target}/bench-media"
mkdir -p "$MEDIA"
SRC="$MEDIA/noise4M_60s.asf"
BIG="$MEDIA/noise4M_33x.asf"
if [ ! -f "$SRC" ]; then
  # 60 s at a real ~4.2 Mb/s (noise defeats the encoder), the recipe of spec/interop-tools.md §3.
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=640x480:rate=25:duration=60 \
    -f lavfi -i sine=frequency=1000:sample_rate=44100:duration=60 -vf noise=alls=30:allf=t \
    -c:v wmv2 -b:v 4M -maxrate 4M -bufsize 4M -c:a wmav2 -b:a 128k -ac 2 -f asf "$SRC"
fi
if [ ! -f "$BIG" ]; then
  ffmpeg -hide_banner -loglevel error -y -stream_loop 32 -i "$SRC" -c copy -f asf "$BIG"
fi
SIZE=$(stat -c %s "$BIG")
echo "input: $BIG, $SIZE bytes"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # label, command...
  local label=$1; shift
  local walls=()
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    walls+=("$(echo "$t1 - $t0" | bc -l)")
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | median)
  printf '%-40s median %.3f s over %s runs -> %.0f MB/s (walls: %s)\n' "$label" "$med" "$RUNS" \
    "$(echo "$SIZE / $med / 1000000" | bc -l)" "$(printf '%.3f ' "${walls[@]}")"
}
cat "$BIG" > /dev/null   # page cache
measure "ffmpeg demux (-c copy -f null)" ffmpeg -hide_banner -loglevel error -nostdin -y -i "$BIG" -c copy -f null -
measure "ffmpeg copy-mux (-c copy -f asf)" ffmpeg -hide_banner -loglevel error -nostdin -y -i "$BIG" -c copy -f asf /dev/null
WMPUSH="${CARGO_TARGET_DIR:-target}/release/wmpush"
if [ -x "$WMPUSH" ] && "$WMPUSH" help remux >/dev/null 2>&1; then
  measure "wmpush remux -> /dev/null" "$WMPUSH" remux "$BIG" /dev/null
  # The issue's comparison: ffmpeg's copy-mux and wmpush remux alternated, run after run, so
  # both see the same machine state; the ratio is taken per pair (ffmpeg's time over ours).
  echo "--- ffmpeg -c copy -f asf vs wmpush remux, alternated ($RUNS pairs)"
  # WMPUSH_BASELINE=/path/to/an/older/wmpush joins the alternation (a before/after in one run).
  BASE="${WMPUSH_BASELINE:-}"
  ratios=(); fw=(); ww=(); bw=()
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    ffmpeg -hide_banner -loglevel error -nostdin -y -i "$BIG" -c copy -f asf /dev/null
    t1=$(date +%s%N)
    "$WMPUSH" remux "$BIG" /dev/null 2>/dev/null
    t2=$(date +%s%N)
    fw+=("$(( (t1 - t0) / 1000000 ))"); ww+=("$(( (t2 - t1) / 1000000 ))")
    ratios+=("$(echo "scale=3; ($t1 - $t0) / ($t2 - $t1)" | bc -l)")
    if [ -n "$BASE" ]; then
      t3=$(date +%s%N); "$BASE" remux "$BIG" /dev/null 2>/dev/null; t4=$(date +%s%N)
      bw+=("$(( (t4 - t3) / 1000000 ))")
    fi
  done
  printf 'ffmpeg ms: %s (median %s)\n' "${fw[*]}" "$(printf '%s\n' "${fw[@]}" | median)"
  printf 'wmpush ms: %s (median %s)\n' "${ww[*]}" "$(printf '%s\n' "${ww[@]}" | median)"
  if [ -n "$BASE" ]; then
    printf 'baseline %s ms: %s (median %s)\n' "$BASE" "${bw[*]}" "$(printf '%s\n' "${bw[@]}" | median)"
  fi
  printf 'ratio per pair: %s (median %s)\n' "${ratios[*]}" "$(printf '%s\n' "${ratios[@]}" | median)"
fi
echo "--- our criterion benches, same run"
cargo bench -p asf-format --bench payloads -- --warm-up-time 1 --measurement-time 5 2>&1 | grep -E "^payloads|time:|thrpt:" || true
