#!/usr/bin/env bash
# Mount benchmark, run by hand: sequential reads of a large file through the
# mount (kernel passthrough and pread paths) vs direct reads vs bindfs, a
# find/stat walk over a 100,000-photo catalog vs the native tree of the same
# shape, and the daemon's RSS. Prints a table.
# `copy`: copying into the mount (1,000 files of 20 KB, new content and the
# same again into a second set; 20 files of 3 MB; the same from a library
# folder, with the bytes left in the default folder) into a catalog of 0
# and of BENCH_PHOTOS photos, against cp to ext4 and to bindfs.
# `on-demand`: opening a photo not downloaded yet against curl (as root, then
# as BENCH_USER through fusermount3 when that user exists), thumbnails
# of a set (BENCH_THUMB_PHOTOS, 500) from Flickr's small size against
# Pillow from the originals, Flickr 20 ms away.
# `read-user`: the read path without root. The mount, bindfs and the reads
# run as an ordinary user (BENCH_USER, default benchuser: `useradd -m
# benchuser`), so the mount goes through fusermount3 and has no passthrough:
# a first read of a BENCH_READ_MB file (1 GiB) and a cold read (caches
# dropped) of a folder of 200 photos of 5 MB, against direct reads and
# bindfs in the same run; then the same rows for a mount by root
# (passthrough). Targets: first read >= 0.5x direct and ahead of bindfs.
# `metadata`: `ls -l` of a set of 1,000 and `stat` of 1,000 photos across
# sets, cold (fresh mount) and warm, and the daemon's RSS, with 10,000 and
# 1,000,000 photos in the catalog (BENCH_SIZES; seeded by SQL in one
# transaction). Targets: the same cost at both sizes, RSS <= 150 MB.
#
#   scripts/bench-mount.sh                      # 100,000 photos, 1 GiB file
#   BENCH_PHOTOS=10000 BENCH_READ_MB=256 scripts/bench-mount.sh
#   scripts/bench-mount.sh copy                 # copy-in rows
#   scripts/bench-mount.sh on-demand            # photos on demand, thumbnails
#   scripts/bench-mount.sh read-user            # reads without root (run as root)
#   scripts/bench-mount.sh metadata             # stat/lookup/listing at 10k and 1M photos
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
if [ "${1:-}" = on-demand ]; then
    echo "as $(id -un):"
    cargo test --release --test on_demand bench_on_demand -- --ignored --nocapture --test-threads=1 2>&1 \
        | grep -E '^\|'
    rc=${PIPESTATUS[0]}
    # the same as an ordinary user, whose mount goes through fusermount3
    user="${BENCH_USER:-benchuser}"
    if [ "$(id -u)" = 0 ] && id "$user" >/dev/null 2>&1; then
        bin=$(cargo test --release --test on_demand --no-run 2>&1 | grep -o 'target/release/deps/on_demand-[0-9a-f]*' | head -1)
        echo "as $user (fusermount3):"
        (cd /tmp && setpriv --reuid="$user" --regid="$user" --init-groups env HOME="$(eval echo "~$user")" \
            BENCH_THUMB_PHOTOS="${BENCH_THUMB_PHOTOS:-500}" "$OLDPWD/$bin" bench_on_demand --ignored --nocapture --test-threads=1 2>&1) \
            | grep -E '^\|'
    else
        echo "(no ordinary-user rows: run as root with a user $user: useradd -m $user)"
    fi
    exit "$rc"
fi
if [ "${1:-}" = read-user ]; then
    [ "$(id -u)" = 0 ] || { echo "bench-mount read-user: run as root (it drops caches and switches users)" >&2; exit 1; }
    id "${BENCH_USER:-benchuser}" >/dev/null 2>&1 \
        || { echo "bench-mount read-user: no user ${BENCH_USER:-benchuser}; create it: useradd -m ${BENCH_USER:-benchuser}" >&2; exit 1; }
    command -v setpriv >/dev/null || { echo "bench-mount: setpriv is not installed" >&2; exit 1; }
    cargo test --release --test mount_process bench_read_user -- --ignored --nocapture --test-threads=1 2>&1 \
        | sed -n '/^flickrfs read benchmark/,/^test /p' | grep -v '^test '
    exit "${PIPESTATUS[0]}"
fi
if [ "${1:-}" = metadata ]; then
    cargo test --release --test mount_process bench_metadata -- --ignored --nocapture --test-threads=1 2>&1 \
        | sed -n '/^flickrfs metadata benchmark/,/^test /p' | grep -v '^test '
    exit "${PIPESTATUS[0]}"
fi
if [ "${1:-}" = copy ]; then
    cargo test --release --test copy_in bench_copy_in -- --ignored --nocapture --test-threads=1 2>&1 \
        | grep -E '^\|'
    exit "${PIPESTATUS[0]}"
fi
cargo test --release --test mount_process bench_mount -- --ignored --nocapture --test-threads=1 2>&1 \
    | sed -n '/^flickrfs mount benchmark/,/^test /p' | grep -v '^test '
