#!/usr/bin/env bash
# Sync benchmarks against the local emulator (run by hand; each prints a table).
#   scripts/bench-sync.sh        both sections
#   scripts/bench-sync.sh sync [SIZE...]
#                                a large account of each SIZE photos (default: FLICKRFS_BENCH_PHOTOS,
#                                else 100000), one table per size: first plan, no-op resync, a resync
#                                after 100 local + 100 remote changes; 500 up and down (first size only)
#                                knobs: FLICKRFS_BENCH_SETS (300), FLICKRFS_BENCH_CHANGES (100),
#                                FLICKRFS_BENCH_TRANSFER (500; 0 skips), FLICKRFS_BENCH_LATENCY_MS (20)
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
[ $# -gt 0 ] && shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=("${FLICKRFS_BENCH_PHOTOS:-100000}")

# One table for a library of $1 photos; $2: the transfer count (0: none).
sync_size() {
    local out peak_kb
    out=$(mktemp)
    echo "### $1 photos"
    FLICKRFS_BENCH_PHOTOS=$1 FLICKRFS_BENCH_TRANSFER=$2 \
        /usr/bin/time -v cargo test -q --release --test sync_bench -- --ignored --nocapture --test-threads=1 \
        2> >(tee "$out.time" >&2) | grep '^|'
    peak_kb=$(grep 'Maximum resident set size' "$out.time" | awk '{print $NF}')
    echo "| peak memory (whole benchmark process, emulator included) | $((peak_kb / 1024)) MB | < 300 MB |"
    rm -f "$out" "$out.time"
}

sync_section() {
    cargo test --release --test sync_bench --no-run >/dev/null 2>&1 || cargo test --release --test sync_bench --no-run
    local first=1 size
    for size in "${sizes[@]}"; do
        case "$size" in
            ''|*[!0-9]*) echo "not a library size: $size" >&2; exit 2 ;;
        esac
        [ $first -eq 1 ] || echo
        if [ $first -eq 1 ]; then
            sync_size "$size" "${FLICKRFS_BENCH_TRANSFER:-500}"
        else
            sync_size "$size" 0
        fi
        first=0
    done
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
    *) echo "usage: $0 [sync [SIZE...]|peer|all]" >&2; exit 2 ;;
esac
