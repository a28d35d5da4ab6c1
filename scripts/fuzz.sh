#!/usr/bin/env bash
# Coverage-guided fuzzing of everything streammon reads from outside
# (cargo-fuzz, libFuzzer; the targets are in fuzz/fuzz_targets/).
#
#   scripts/fuzz.sh                 every target, 10 000 000 executions each
#   scripts/fuzz.sh all 100000      every target, 100 000 executions each
#   scripts/fuzz.sh cmcd_query      one target
#   scripts/fuzz.sh list            the targets
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs
# cargo-fuzz when it is missing. Each target runs as one process, one after
# the other (the machines have two cores), from a working corpus in
# fuzz/corpus/<target>/ that starts from the committed seeds in
# fuzz/seeds/<target>/ and keeps what each run learns, with the words of
# its format from fuzz/dicts/<target>.dict. Crash inputs land in
# fuzz/artifacts/<target>/, each run's log in fuzz/logs/<target>.log.
#
# The build is cargo fuzz's default, release with debug assertions and
# overflow checks, so an arithmetic overflow is a crash; without a
# sanitizer (`-s none`): our crates deny unsafe code, the targets look for
# panics, overflows and broken invariants, and AddressSanitizer, which
# instruments every memory access, would slow each execution. Set
# FUZZ_SANITIZER=address to use it anyway.
#
# Prints a table (target, executions, crashes, seconds, and the corpus
# libFuzzer kept: inputs/size) and exits 1 if any target crashed. Not part
# of ./test.sh (a full run takes about an hour); every crash it has found
# is a named regression test that is.
# docs/RELIABILITY.md ("Fuzzing") has the last full run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

what=${1:-all}
runs=${2:-10000000}
sanitizer=${FUZZ_SANITIZER:-none}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=$(cargo +nightly fuzz list)
case "$what" in
    list) echo "$targets"; exit 0 ;;
    all) ;;
    *)
        if ! grep -qx "$what" <<<"$targets"; then
            echo "fuzz.sh: no target $what; the targets are:" >&2
            echo "$targets" >&2
            exit 2
        fi
        targets=$what
        ;;
esac
if ! [[ "$runs" =~ ^[0-9]+$ ]]; then
    echo "fuzz.sh: runs must be a number, not $runs" >&2
    exit 2
fi

echo "== building ($(cargo +nightly --version), sanitizer $sanitizer)"
if [ "$what" = all ]; then
    cargo +nightly fuzz build -s "$sanitizer"
else
    cargo +nightly fuzz build -s "$sanitizer" "$what"
fi

mkdir -p logs
rows=()
failed=0
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    if [ -d "seeds/$t" ]; then
        cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    fi
    dict=()
    if [ -f "dicts/$t.dict" ]; then
        dict=(-dict="dicts/$t.dict")
    fi
    echo "== $t: $runs executions"
    start=$(date +%s)
    status=0
    cargo +nightly fuzz run -s "$sanitizer" "$t" "corpus/$t" -- \
        -runs="$runs" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 "${dict[@]}" \
        >"logs/$t.log" 2>&1 || status=$?
    seconds=$(($(date +%s) - start))
    # From libFuzzer's final figures; `?` when it stopped before them.
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -n1 || true)
    corpus=$(grep -E '^#[0-9]+' "logs/$t.log" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' | tail -n1 | cut -d' ' -f2 || true)
    crashes=0
    if [ "$status" -ne 0 ]; then
        crashes=1
        failed=1
        echo "   CRASH (exit $status); the input is in fuzz/artifacts/$t/, the log in fuzz/logs/$t.log:" >&2
        grep -m1 -A12 -E "panicked|ERROR: libFuzzer|deadly signal|timeout" "logs/$t.log" >&2 || tail -n 20 "logs/$t.log" >&2
    fi
    rows+=("$(printf '%-16s %12s %8s %8s %14s' "$t" "${execs:-?}" "$crashes" "$seconds" "${corpus:-?}")")
done

echo
printf '%-16s %12s %8s %8s %14s\n' target executions crashes seconds corpus
for r in "${rows[@]}"; do
    echo "$r"
done
exit "$failed"
