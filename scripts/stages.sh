#!/usr/bin/env bash
# Stages for demo.sh and test.sh: a line when each starts, a line with its result and time when it ends, and
# one summary of every stage at the end. Sourced.

asiocurl_stage_names=()
asiocurl_stage_results=()
asiocurl_stage_seconds=()
asiocurl_failed=0
asiocurl_last_status=0

asiocurl_duration() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# asiocurl_stage NAME COMMAND...: runs COMMAND in a subshell with errexit, so that a function's first failing
# command ends it, and records the result; its status is left in asiocurl_last_status. Call it as a plain
# command (not in an `if` condition or an && / || list: bash ignores errexit inside those).
asiocurl_stage() {
    local name=$1
    shift
    echo "== $name"
    local start=$SECONDS status=0
    set +e
    (
        set -e
        "$@"
    )
    status=$?
    set -e
    local took=$((SECONDS - start)) result=ok
    if [ "$status" -ne 0 ]; then
        result="FAILED (exit $status)"
        asiocurl_failed=1
    fi
    echo "== $name: $result, $(asiocurl_duration "$took")"
    asiocurl_stage_names+=("$name")
    asiocurl_stage_results+=("$result")
    asiocurl_stage_seconds+=("$took")
    asiocurl_last_status=$status
}

# A stage not run, because one it needs failed.
asiocurl_stage_skipped() {
    echo "== $1: skipped ($2)"
    asiocurl_stage_names+=("$1")
    asiocurl_stage_results+=("skipped: $2")
    asiocurl_stage_seconds+=(0)
}

# Prints the summary; returns 1 if a stage failed.
asiocurl_summary() {
    local total=0 i
    echo
    echo "== summary"
    for i in "${!asiocurl_stage_names[@]}"; do
        printf '   %-48s %8s  %s\n' "${asiocurl_stage_names[$i]}" \
            "$(asiocurl_duration "${asiocurl_stage_seconds[$i]}")" "${asiocurl_stage_results[$i]}"
        total=$((total + asiocurl_stage_seconds[i]))
    done
    printf '   %-48s %8s  %s\n' "total" "$(asiocurl_duration "$total")" \
        "$([ "$asiocurl_failed" -eq 0 ] && echo ok || echo FAILED)"
    [ "$asiocurl_failed" -eq 0 ]
}

# cmake --preset, its output kept in build/logs/configure-PRESET.log and shown only when it fails (or warns).
asiocurl_configure() {
    local preset=$1 log
    mkdir -p build/logs
    log=build/logs/configure-$preset.log
    if ! cmake --preset "$preset" >"$log" 2>&1; then
        cat "$log" >&2
        return 1
    fi
    if grep -q "CMake Warning" "$log"; then
        grep -A6 "CMake Warning" "$log" >&2
    fi
}
