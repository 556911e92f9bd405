#!/usr/bin/env bash
# The test suite: unit tests, the emulator over real HTTP, real FUSE mounts,
# end-to-end syncs. Needs /dev/fuse and fusermount3 (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
    echo "test: /dev/fuse and fusermount3 are required (run scripts/setup.sh)" >&2
    exit 1
fi
# The tests drive the mount as file managers do: GIO (libglib2.0-bin), GVfs's
# trash on a session bus (gvfs, gvfs-daemons, dbus), KIO (kde-cli-tools).
missing=()
for tool in gio dbus-run-session /usr/libexec/gvfsd-trash kioclient5 ktrash5 getfattr rsync sqlite3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "test: missing ${missing[*]}; install them with:" >&2
    echo "  apt-get install fuse3 attr rsync sqlite3 python3-pil libglib2.0-bin" >&2
    echo "  apt-get install --no-install-recommends gvfs gvfs-daemons dbus kde-cli-tools" >&2
    exit 1
fi
scripts/check-imports.py
cargo test --locked "$@"
