#!/usr/bin/env bash
# The test suite: unit tests, the emulator over real HTTP, real FUSE mounts,
# end-to-end syncs. Needs /dev/fuse and fusermount3 (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
    echo "test: /dev/fuse and fusermount3 are required (run scripts/setup.sh)" >&2
    exit 1
fi
scripts/check-imports.py
cargo test --locked "$@"
