#!/usr/bin/env bash
# Installs what flickrfs needs on Debian/Ubuntu (as root, or through sudo) and
# builds it. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(fuse3 attr rsync pkg-config libssl-dev python3 ca-certificates sqlite3 libglib2.0-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -e /dev/fuse ]; then
    echo "setup: /dev/fuse is missing: load the fuse module (modprobe fuse) or run on a machine with FUSE" >&2
    exit 1
fi
if ! command -v cargo >/dev/null; then
    echo "setup: cargo is missing: install Rust from https://rustup.rs" >&2
    exit 1
fi
cargo build --release --locked
