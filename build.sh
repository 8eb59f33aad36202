#!/usr/bin/env bash
# MsSwift.Aspire: the one entry point for developers and CI.
#   ./build.sh run        install what is missing, build, run the whole cluster (Ctrl+C stops it all)
#   ./build.sh test       install what is missing, build, run every test project; the last line
#                         reads "N passed, N failed[, N skipped]" and the exit code is non-zero on failure
#   ./build.sh setup      only install prerequisites (redis-server, kcat, libstdc++ for TorchSharp)
#   ./build.sh manifest   regenerate aspire-manifest.json from the AppHost
#   ./build.sh publish    write deploy/k8s/ (kustomize base, dev and gpu overlays) from the manifest and
#                         deploy/publish.json (--check: only say whether deploy/k8s/ is current)
#   ./build.sh bench model  run a benchmark: model, inference or gateway (installs python3-torch, OpenBLAS, h2load)
# Extra arguments after `run` go to the AppHost (e.g. --Infrastructure:Mode=external).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

command=${1:-help}
[ $# -gt 0 ] && shift

case "$command" in
  setup)
    eng/setup.sh
    ;;
  run)
    eng/setup.sh
    dotnet build MsSwift.Aspire.sln --nologo -v quiet -clp:NoSummary
    # The AppHost prints the dashboard login URL, then the gateway addresses once it is ready.
    exec dotnet run --no-build --project AppHost -- "$@"
    ;;
  test)
    eng/setup.sh
    exec eng/test.sh "$@"
    ;;
  bench)
    eng/setup.sh --bench
    dotnet build tools/Bench -c Release --nologo -v quiet -clp:NoSummary
    exec dotnet run -c Release --no-build --project tools/Bench -- "$@"
    ;;
  publish)
    dotnet build tools/Publish --nologo -v quiet -clp:NoSummary
    exec dotnet run --no-build --project tools/Publish -- "$@"
    ;;
  manifest)
    dotnet build AppHost --nologo -v quiet -clp:NoSummary
    dotnet run --no-build --project AppHost --no-launch-profile -- --publisher manifest --output-path ../aspire-manifest.json
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    [ "$command" = help ] || exit 2
    ;;
esac
