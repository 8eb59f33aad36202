#!/usr/bin/env bash
# The gateway benchmark with the profiler on (issue 16): installs dotnet-trace and dotnet-counters
# as local tools under .artifacts/tools (no global install), then runs
#   ./build.sh bench gateway --profile DIR [other bench options]
# which, after the measured runs, records the gateway and bare YARP under a 1-token saturation load
# and prints CPU and allocations per request and where they go. DIR defaults to .artifacts/profile.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.artifacts/tools"
for tool in dotnet-trace dotnet-counters; do
  [ -x "$tools/$tool" ] || dotnet tool install "$tool" --tool-path "$tools" >/dev/null
done
export PATH="$tools:$PATH"
profile="$root/.artifacts/profile"
if [ "${1:-}" = "--profile" ]; then profile=${2:?--profile needs a directory}; shift 2; fi
exec "$root/build.sh" bench gateway --profile "$profile" "$@"
