#!/usr/bin/env bash
# Fuzzes siltdb's decoders with cargo-fuzz (libFuzzer), each target for N seconds.
#
#   fuzz/run.sh [seconds] [target...]      default: 20 seconds, every target
#   FUZZ_MERGE=1 fuzz/run.sh ...           also merge new coverage into fuzz/corpus/<target>
#
# Targets: block, table, log_reader, version_edit, write_batch (harnesses in src/lib.rs).
# Needs the nightly toolchain and `cargo install cargo-fuzz`. The address sanitizer is
# tried first; a nightly that cannot build it falls back to `--sanitizer none` (safe Rust
# is bounds-checked anyway). The checked-in corpus is only read; new inputs go to a scratch
# directory. A crash leaves its input in fuzz/artifacts/<target>/ and fails the script;
# replay it on stable with
#   SILTDB_FUZZ_TARGET=<target> SILTDB_FUZZ_INPUT=<file> \
#     cargo test -p siltdb --test fuzz_corpus_replays -- --ignored replay_one
# `make test` does not fuzz: core/tests/fuzz_corpus_replays.rs replays the corpus instead.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-20}
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(block table log_reader version_edit write_batch)
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
unset CARGO_TARGET_DIR # cargo-fuzz looks for its binaries under fuzz/target

sanitizer=(--sanitizer address)
if ! cargo +nightly fuzz build "${sanitizer[@]}" "${targets[0]}" >/dev/null 2>&1; then
    echo "address sanitizer unavailable on this nightly: using --sanitizer none" >&2
    sanitizer=(--sanitizer none)
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    log="$scratch/$t.log"
    if cargo +nightly fuzz run "${sanitizer[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 >"$log" 2>&1; then
        outcome=ok
    else
        outcome=CRASH
        status=1
        tail -40 "$log" >&2
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz $t: ${execs:-?} executions in ${secs}s: $outcome"
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$outcome" = ok ]; then
        cargo +nightly fuzz run "${sanitizer[@]}" "$t" "corpus/$t" "$scratch/$t" -- -merge=1 >/dev/null 2>&1
    fi
done
exit $status
