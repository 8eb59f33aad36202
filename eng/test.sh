#!/usr/bin/env bash
# Builds the solution and runs every test project, then prints one closing line summed over all
# of them from their TRX files: "N passed, N failed[, N skipped]". Exits non-zero on any failure,
# including a test host that crashed or hung before it could report.
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d "${TMPDIR:-/tmp}/msswift-tests.XXXXXX")
trap 'rm -rf "$results"' EXIT

dotnet build MsSwift.Aspire.sln --nologo -v quiet -clp:NoSummary || { echo "build failed ($(df -h . | awk 'NR == 2 { print $4 }') free on this disk)"; echo "0 passed, 1 failed"; exit 1; }

dotnet test MsSwift.Aspire.sln --no-build --nologo \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" \
  --blame-hang-timeout 10m "$@"
status=$?

passed=0; failed=0; skipped=0
counter() { grep -o "$1=\"[0-9]*\"" "$2" | head -1 | grep -o '[0-9]*' || echo 0; }
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  printf '%s\n' "$counters" > "$results/counters"
  passed=$((passed + $(counter passed "$results/counters")))
  failed=$((failed + $(counter failed "$results/counters") + $(counter error "$results/counters") + $(counter timeout "$results/counters") + $(counter aborted "$results/counters")))
  skipped=$((skipped + $(counter notExecuted "$results/counters")))
done

test_projects=$(dotnet sln MsSwift.Aspire.sln list | grep -c '^tests/.*\.Tests\.csproj$')
reports=$(find "$results" -maxdepth 1 -name '*.trx' | wc -l)
if [ "$reports" -lt "$test_projects" ]; then
  echo "$((test_projects - reports)) test project(s) produced no report (crashed or hung); counted as failed"
  failed=$((failed + test_projects - reports))
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test exited with $status without a failed test; counted as a failure"
  failed=1
fi

# Name what failed right above the closing line: CI keeps only the tail of the output.
if [ "$failed" -gt 0 ]; then
  for trx in "$results"/*.trx; do
    [ -e "$trx" ] || continue
    grep -o '<UnitTestResult [^>]*outcome="\(Failed\|Error\|Timeout\|Aborted\)"[^>]*>' "$trx" \
      | grep -o 'testName="[^"]*"' | sed 's/^testName="\(.*\)"$/FAILED: \1/'
  done
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
