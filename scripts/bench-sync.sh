#!/usr/bin/env bash
# Sync benchmark against the local emulator (run by hand; prints a table).
# Knobs: FLICKRFS_BENCH_PHOTOS (100000), FLICKRFS_BENCH_SETS (300),
# FLICKRFS_BENCH_TRANSFER (500), FLICKRFS_BENCH_LATENCY_MS (20).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test sync_bench --no-run >/dev/null 2>&1 || cargo test --release --test sync_bench --no-run
out=$(mktemp)
/usr/bin/time -v cargo test -q --release --test sync_bench -- --ignored --nocapture --test-threads=1 \
    2> >(tee "$out.time" >&2) | grep '^|'
peak_kb=$(grep 'Maximum resident set size' "$out.time" | awk '{print $NF}')
echo "| peak memory (whole benchmark process, emulator included) | $((peak_kb / 1024)) MB | < 300 MB |"
rm -f "$out" "$out.time"
