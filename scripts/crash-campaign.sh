#!/usr/bin/env bash
# A longer crash campaign: tests/sync_crash.rs with more runs and several
# seeds. Each run kills a sync with SIGKILL at a seeded request count, resumes
# it, and checks duplicates online, lost files and the end state.
# Usage: scripts/crash-campaign.sh [RUNS_PER_SEED=100] [SEEDS="1 2 3"] [PHOTOS=200]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
seeds=${2:-"1 2 3"}
photos=${3:-200}
total=0 dup=0 lost=0 matched=0 failed=0
for seed in $seeds; do
    line=$(FLICKRFS_CRASH_RUNS=$runs FLICKRFS_CRASH_SEED=$seed FLICKRFS_CRASH_PHOTOS=$photos \
        cargo test -q --test sync_crash -- --nocapture 2>&1 | grep -oE 'runs [0-9]+ [|].*' || true)
    if [ -z "$line" ]; then
        echo "seed $seed: FAILED (rerun: FLICKRFS_CRASH_SEED=$seed FLICKRFS_CRASH_RUNS=$runs cargo test --test sync_crash -- --nocapture)"
        failed=$((failed + 1))
        continue
    fi
    echo "seed $seed: $line"
    total=$((total + runs))
    dup=$((dup + $(sed -E 's/.*duplicates online ([0-9]+).*/\1/' <<<"$line")))
    lost=$((lost + $(sed -E 's/.*files lost ([0-9]+).*/\1/' <<<"$line")))
    matched=$((matched + $(sed -E 's/.*end state matched ([0-9]+)\/.*/\1/' <<<"$line")))
done
echo "runs $total | duplicates online $dup | files lost $lost | end state matched $matched/$total | seeds failed $failed"
[ "$failed" -eq 0 ]
