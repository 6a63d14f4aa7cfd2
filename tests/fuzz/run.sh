#!/usr/bin/env bash
# Runs the eskit libFuzzer targets (see tests/fuzz/build.sh; targets fuzz_append, fuzz_calls,
# fuzz_codecs).
#
#   tests/fuzz/run.sh smoke    [BUILD_DIR]   # CI: build, replay regressions, ~20 s per target
#   tests/fuzz/run.sh campaign [BUILD_DIR]   # long run: 1 h per target, 2 parallel jobs each
#   tests/fuzz/run.sh replay   [BUILD_DIR]   # only replay tests/fuzz/regressions/* and the corpus
#
# BUILD_DIR defaults to build-fuzz/ at the repository root. Environment knobs:
#   FUZZ_SMOKE_SECONDS  seconds per target in smoke mode (default 20)
#   FUZZ_TIME           seconds per target in campaign mode (default 3600)
#   FUZZ_JOBS           parallel jobs (= workers) per target in campaign mode (default 2)
#   FUZZ_TARGETS        space-separated subset, e.g. "fuzz_calls"
#
# smoke: the committed corpus (tests/fuzz/corpus/<target>/) is copied to a scratch directory so
# the repository is never written; first every file of tests/fuzz/regressions/<target>/ and of
# the corpus is executed once (a fixed bug must stay fixed; for fuzz_calls the seeds must also
# reach every shape of the category/type index: tail empty, partly full, at the bound, across a
# fold — ESKIT_FUZZ_STATS), then libFuzzer mutates for the given time. Any crash, sanitizer report or violated invariant makes the script exit non-zero;
# the failing input is saved under BUILD_DIR/artifacts/<target>/. Figures (executions, exec/s,
# corpus size, time) are printed per target.
#
# campaign: corpus kept across runs in BUILD_DIR/campaign/<target>/corpus (seeded from the
# committed one), logs in BUILD_DIR/campaign/<target>/fuzz-N.log, crashes in
# BUILD_DIR/campaign/<target>/artifacts/. Typical use (about 2 h wall clock on 2 cores):
#     tests/fuzz/run.sh campaign            # or FUZZ_TIME=600 FUZZ_JOBS=1 for a shorter one
# Afterwards, to refresh the committed seeds with what a campaign found (review the diff):
#     build-fuzz/fuzz_calls -merge=1 tests/fuzz/corpus/calls build-fuzz/campaign/fuzz_calls/corpus
# A crash found: minimize it (build-fuzz/fuzz_X -minimize_crash=1 -runs=20000 CRASHFILE), put the
# result in tests/fuzz/regressions/fuzz_X/<short-name> and report the bug.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:-smoke}"
out="${2:-$root/build-fuzz}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
targets=(${FUZZ_TARGETS:-fuzz_append fuzz_calls fuzz_codecs})

corpus_of() {  # target -> committed corpus directory
    case "$1" in
        fuzz_append) echo "$here/corpus/append" ;;
        fuzz_calls) echo "$here/corpus/calls" ;;
        fuzz_codecs) echo "$here/corpus/codecs" ;;
    esac
}

dict_of() {  # target -> dictionary
    case "$1" in fuzz_codecs) echo "$here/codecs.dict" ;; *) echo "$here/eskit.dict" ;; esac
}

case "$mode" in smoke|campaign|replay) ;; *)
    echo "usage: $0 smoke|campaign|replay [BUILD_DIR]" >&2; exit 2 ;;
esac

echo "== building fuzz targets into $out"
"$here/build.sh" "$out" || { echo "run.sh: build failed" >&2; exit 1; }

# Executes every regression file and every corpus file once (no mutation).
replay() {  # target
    local t="$1" files=()
    mapfile -t files < <(find "$here/regressions/$t" "$(corpus_of "$t")" -type f ! -name '.*' ! -name 'README*' 2>/dev/null | sort)
    if (( ${#files[@]} == 0 )); then return 0; fi
    local n_reg
    n_reg=$(find "$here/regressions/$t" -type f ! -name '.*' ! -name 'README*' 2>/dev/null | wc -l)
    echo "-- $t: replaying $n_reg regression file(s) and $(( ${#files[@]} - n_reg )) corpus file(s)"
    if ! ESKIT_FUZZ_STATS=1 "$out/$t" -runs=1 "${files[@]}" >"$out/logs/$t.replay.log" 2>&1; then
        tail -n 60 "$out/logs/$t.replay.log"
        echo "FAIL: $t crashed on a regression or corpus file (log: $out/logs/$t.replay.log)"
        return 1
    fi
    if [[ "$t" == fuzz_calls ]]; then
        # The differential reads of categories and types must meet the index (schema 3) in
        # every shape, deterministically, from the committed seeds: the tail empty after a
        # fold, partly full, at the bound (255 of 256), and reads before and after a fold.
        local stats k v
        stats=$(grep -h 'fuzz_calls stats:' "$out/logs/$t.replay.log" | tail -n 1)
        echo "   $stats"
        for k in tail_empty tail_partial tail_bound across_fold; do
            v=$(sed -n "s/.* $k=\([0-9]*\).*/\1/p" <<<"$stats")
            if [[ -z "$v" || "$v" -eq 0 ]]; then
                echo "FAIL: $t: no category/type read compared with the index in shape '$k'" \
                     "(the seeds in $(corpus_of "$t") no longer reach it)"
                return 1
            fi
        done
    fi
}

mkdir -p "$out/logs"
status=0
summary=()
for t in "${targets[@]}"; do
    if ! replay "$t"; then status=1; summary+=("$t: FAIL (replay)"); continue; fi
    [[ "$mode" == replay ]] && { summary+=("$t: replay ok"); continue; }

    if [[ "$mode" == smoke ]]; then
        secs="${FUZZ_SMOKE_SECONDS:-20}"
        work="$out/smoke/$t"
        rm -rf "$work"; mkdir -p "$work/corpus" "$out/artifacts/$t"
        cp -r "$(corpus_of "$t")/." "$work/corpus/"   # read-only copy of the committed seeds
        log="$out/logs/$t.smoke.log"
        echo "-- $t: fuzzing for ${secs}s"
        start=$(date +%s)
        "$out/$t" "$work/corpus" -dict="$(dict_of "$t")" -max_total_time="$secs" -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
            >"$log" 2>&1
        rc=$?
        end=$(date +%s)
    else
        secs="${FUZZ_TIME:-3600}"
        jobs="${FUZZ_JOBS:-2}"
        work="$out/campaign/$t"
        mkdir -p "$work/corpus" "$work/artifacts"
        cp -rn "$(corpus_of "$t")/." "$work/corpus/"
        log="$work/campaign.log"
        echo "-- $t: campaign of ${secs}s with $jobs job(s), logs in $work"
        start=$(date +%s)
        ( cd "$work" && "$out/$t" "$work/corpus" -dict="$(dict_of "$t")" -max_total_time="$secs" \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" \
            -artifact_prefix="$work/artifacts/" ) >"$log" 2>&1
        rc=$?
        end=$(date +%s)
        cat "$work"/fuzz-*.log >>"$log" 2>/dev/null
    fi
    # Figures: with -jobs the per-job logs hold the stats (the parent repeats them).
    stats=("$log")
    if [[ "$mode" == campaign ]] && compgen -G "$work/fuzz-*.log" >/dev/null; then stats=("$work"/fuzz-*.log); fi
    execs=$(grep -h 'stat::number_of_executed_units' "${stats[@]}" | awk '{s += $2} END {print s + 0}')
    rate=$(grep -h 'stat::average_exec_per_sec' "${stats[@]}" | awk '{s += $2} END {print s + 0}')
    cov=$(grep -ho 'cov: [0-9]*' "$log" | tail -n1 | awk '{print $2}')
    csize=$(find "$work/corpus" -type f | wc -l)
    crashes=$(find "$work" "$out/artifacts/$t" -maxdepth 2 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l)
    line="$t: execs=$execs exec/s=$rate cov=${cov:-?} corpus=$csize files time=$((end - start))s crashes=$crashes rc=$rc"
    echo "   $line"
    if (( rc != 0 )) || grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant violated' "$log"; then
        grep -h -A 30 -E 'invariant violated|ERROR: |runtime error:' "$log" | head -n 60
        echo "FAIL: $t (log: $log)"
        status=1
        summary+=("FAIL $line")
    else
        summary+=("ok   $line")
    fi
done

echo "== fuzz $mode summary"
printf '   %s\n' "${summary[@]}"
exit $status
