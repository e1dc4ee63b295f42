#!/usr/bin/env bash
# Fuzzes every target for SECONDS each, one after the other, and prints a summary.
#
#   fuzz/run.sh SECONDS
#
# Builds once (cargo +nightly fuzz build, release with debug assertions, AddressSanitizer),
# then runs each target on its corpus (fuzz/corpus/TARGET, seeds included) with the
# protocol dictionary, in one process each (no -jobs/-workers: the machine is shared). New
# corpus entries stay in fuzz/corpus/TARGET (ignored by git, except seed-*); crashes go to
# fuzz/artifacts/TARGET. Exits non-zero if any target crashed, leaked, timed out or ran
# out of memory. Works from any directory.
set -uo pipefail

if [[ $# -ne 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS" >&2
    exit 2
fi
seconds=$1
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz_dir")"
targets=(frame_decoder server_connection client_connection handshake_request handshake_response roundtrip utf8 inflate)

# The fuzz crate's own target directory, never the main crate's.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$fuzz_dir/target}"
case "$CARGO_TARGET_DIR" in
    "$fuzz_dir"/target*) ;;
    *) echo "CARGO_TARGET_DIR must be under $fuzz_dir/target, not $CARGO_TARGET_DIR" >&2; exit 2 ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "=== installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi

cd "$root" || exit 1
echo "=== building the fuzz targets"
cargo +nightly fuzz build --fuzz-dir "$fuzz_dir" || exit 1

logs="$fuzz_dir/target/run-logs"
mkdir -p "$logs"
declare -A status execs cov
failed=0
for t in "${targets[@]}"; do
    # Inputs that once broke the library must keep passing.
    for r in "$fuzz_dir"/regressions/"$t"-*; do
        [ -e "$r" ] || continue
        echo "=== $t: regression $(basename "$r")"
        if ! cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" "$t" "$r" >"$logs/$(basename "$r").log" 2>&1; then
            tail -n 20 "$logs/$(basename "$r").log"
            echo "regression $(basename "$r") fails again" >&2
            failed=1
        fi
    done
    echo "=== $t for ${seconds}s"
    mkdir -p "$fuzz_dir/corpus/$t"
    log="$logs/$t.log"
    cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" "$t" "$fuzz_dir/corpus/$t" -- \
        -max_total_time="$seconds" \
        -dict="$fuzz_dir/ws.dict" \
        -rss_limit_mb=2048 \
        -timeout=20 \
        -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    tail -n 3 "$log"
    execs[$t]=$(grep -oE '^Done [0-9]+ runs' "$log" | tail -n 1 | grep -oE '[0-9]+')
    [[ -n ${execs[$t]} ]] || execs[$t]=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
    cov[$t]=$(grep -oE '^#[0-9]+.*cov: [0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
    if [[ $rc -eq 0 ]]; then
        status[$t]=ok
    else
        status[$t]="FAILED (exit $rc, see $log and fuzz/artifacts/$t)"
        failed=1
    fi
done

echo
echo "=== summary: ${seconds}s per target, logs in $logs"
printf '%-20s %14s %8s  %s\n' target execs cov status
for t in "${targets[@]}"; do
    printf '%-20s %14s %8s  %s\n' "$t" "${execs[$t]:-?}" "${cov[$t]:-?}" "${status[$t]}"
done
exit $failed
