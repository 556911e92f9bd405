#!/usr/bin/env bash
# Mount benchmark, run by hand: sequential reads of a large file through the
# mount (kernel passthrough and pread paths) vs direct reads vs bindfs, a
# find/stat walk over a 100,000-photo catalog vs the native tree of the same
# shape, and the daemon's RSS. Prints a table.
#
#   scripts/bench-mount.sh                      # 100,000 photos, 1 GiB file
#   BENCH_PHOTOS=10000 BENCH_READ_MB=256 scripts/bench-mount.sh
#
# Needs /dev/fuse, fusermount3, bindfs; run as root for the passthrough rows.
# Targets: reads >= 0.95x direct, metadata walk within 2x native, RSS < 150 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in fusermount3 bindfs dd find; do
    command -v "$tool" >/dev/null || { echo "bench-mount: $tool is not installed" >&2; exit 1; }
done
[ -e /dev/fuse ] || { echo "bench-mount: /dev/fuse is missing" >&2; exit 1; }
export BENCH_PHOTOS="${BENCH_PHOTOS:-100000}" BENCH_SETS="${BENCH_SETS:-100}" BENCH_READ_MB="${BENCH_READ_MB:-1024}"
cargo test --release --test mount_process bench_mount -- --ignored --nocapture --test-threads=1 2>&1 \
    | sed -n '/^flickrfs mount benchmark/,/^test /p' | grep -v '^test '
