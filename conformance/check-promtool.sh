#!/usr/bin/env bash
# Runs `promtool test rules test.yml` in every conformance case that is not meshwatchd-only
# (a case is meshwatchd-only when the first line of its test.yml starts with "# meshwatchd-only:").
# Prints "ok   <case>" or "FAIL <case>" per case (promtool's output for a failure goes to stderr)
# and exits non-zero if any case failed. PROMTOOL overrides the promtool binary.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
promtool="${PROMTOOL:-promtool}"

if ! command -v "$promtool" >/dev/null 2>&1; then
    echo "check-promtool.sh: $promtool not found" >&2
    exit 2
fi

failed=0
passed=0
for dir in "$here"/cases/*/; do
    name="$(basename "$dir")"
    test="$dir/test.yml"
    if [[ ! -f $test ]]; then
        echo "FAIL $name"
        echo "  no test.yml" >&2
        failed=$((failed + 1))
        continue
    fi
    if head -n 1 "$test" | grep -q '^# meshwatchd-only:'; then
        continue
    fi
    if output="$(cd "$dir" && "$promtool" test rules test.yml 2>&1)"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        printf '%s\n' "$output" | sed 's/^/    /' >&2
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed" >&2
[[ $failed -eq 0 ]]
