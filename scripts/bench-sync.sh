#!/usr/bin/env bash
# Sync benchmarks against the local emulator (run by hand; each prints a table).
#   scripts/bench-sync.sh        both sections
#   scripts/bench-sync.sh sync   a large account: first plan, no-op resync, 500 up and down
#                                knobs: FLICKRFS_BENCH_PHOTOS (100000), FLICKRFS_BENCH_SETS (300),
#                                FLICKRFS_BENCH_TRANSFER (500), FLICKRFS_BENCH_LATENCY_MS (20)
#   scripts/bench-sync.sh peer   flickrfs against flickr-uploader 2.8.7 (installed from PyPI
#                                into a venv under target/): 500 photos of ~300 KB into 5 new
#                                sets, 20 ms per request, one at a time and each at its best
#                                parallelism; wall time and API calls from the emulator's log.
#                                knobs: FLICKRFS_PEER_PHOTOS (500), FLICKRFS_PEER_SETS (5),
#                                FLICKRFS_PEER_LATENCY_MS (20), the parallel settings tried:
#                                FLICKRFS_PEER_FLICKRFS_PARS (4,8,16,32), FLICKRFS_PEER_UPLOADER_PARS
#                                (8,16,32, its -p), each FLICKRFS_PEER_TRIES (2) times, best counts
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

sync_section() {
    cargo test --release --test sync_bench --no-run >/dev/null 2>&1 || cargo test --release --test sync_bench --no-run
    local out
    out=$(mktemp)
    /usr/bin/time -v cargo test -q --release --test sync_bench -- --ignored --nocapture --test-threads=1 \
        2> >(tee "$out.time" >&2) | grep '^|'
    local peak_kb
    peak_kb=$(grep 'Maximum resident set size' "$out.time" | awk '{print $NF}')
    echo "| peak memory (whole benchmark process, emulator included) | $((peak_kb / 1024)) MB | < 300 MB |"
    rm -f "$out" "$out.time"
}

peer_section() {
    cargo test --release --test peer_bench --no-run >/dev/null 2>&1 || cargo test --release --test peer_bench --no-run
    # The table on stdout; a failed check fails the script.
    cargo test -q --release --test peer_bench -- --ignored --nocapture --test-threads=1 | grep '^|'
}

case "$what" in
    sync) sync_section ;;
    peer) peer_section ;;
    all) sync_section; echo; peer_section ;;
    *) echo "usage: $0 [sync|peer|all]" >&2; exit 2 ;;
esac
