#!/usr/bin/env bash
# MsSwift.Aspire: the one entry point for developers and CI.
#   ./build.sh run        install what is missing, build, run the whole cluster (Ctrl+C stops it all)
#   ./build.sh test       install what is missing, build, run every test project; the last line
#                         reads "N passed, N failed[, N skipped]" and the exit code is non-zero on failure
#   ./build.sh demo       the whole product in a few minutes: cluster up, ingest, train with two workers,
#                         register, promote, canary, answer, loss plot; leaves it running (--exit stops it)
#   ./build.sh default-model  retrain the model ./build.sh run serves first (data/models/shakespeare)
#   ./build.sh cli-install    install the msswift CLI as a global .NET tool (./msswift runs it from here)
#   ./build.sh setup      only install prerequisites (redis-server, kcat, libstdc++ for TorchSharp)
#   ./build.sh manifest   regenerate aspire-manifest.json from the AppHost
#   ./build.sh publish    write deploy/k8s/ (kustomize base, dev and gpu overlays) from the manifest and
#                         deploy/publish.json (--check: only say whether deploy/k8s/ is current)
#   ./build.sh bench model  run a benchmark: model, int8, inference, scheduler, gateway, replicas, training, training-cluster or data
#                         (installs python3-torch, OpenBLAS, h2load)
#   ./build.sh images [--cuda] [--registry HOST[/NAMESPACE]] [dotnet publish args]
#                         publish the five OCI images (SDK container publishing, docs/DEPLOYMENT.md);
#                         --cuda: inference and training with CUDA libtorch, tagged <version>-cuda
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
  demo)
    exec eng/demo.sh "$@"
    ;;
  default-model)
    exec eng/demo.sh --default-model --steps 2000 "$@"
    ;;
  cli-install)
    dotnet pack tools/Cli -c Release --nologo -v quiet -clp:NoSummary -o .artifacts/packages
    dotnet tool update --global --add-source .artifacts/packages MsSwift.Cli
    echo "msswift is installed (make sure ~/.dotnet/tools is on PATH); try: msswift --help"
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
  images)
    backend=cpu
    publish_args=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --cuda) backend=cuda ;;
        # ContainerRegistry takes a host only; a path after it becomes the repository's namespace.
        --registry|--registry=*)
          if [ "$1" = --registry ]; then shift; registry=${1:?--registry needs HOST[/NAMESPACE]}; else registry=${1#--registry=}; fi
          publish_args+=("-p:ContainerRegistry=${registry%%/*}")
          [ "$registry" = "${registry#*/}" ] || publish_args+=("-p:MsSwiftImageNamespace=${registry#*/}")
          ;;
        *) publish_args+=("$1") ;;
      esac
      shift
    done
    # org.opencontainers.image.source, when this clone has an https remote.
    source_url=$(git remote get-url origin 2>/dev/null || true)
    case "$source_url" in https://*) publish_args+=("-p:RepositoryUrl=${source_url%.git}") ;; esac
    # Model services come in the chosen backend; data, registry and gateway carry no libtorch,
    # so they are the same image either way.
    for project in Services/Inference Services/Training; do
      dotnet publish "$project" -c Release -t:PublishContainer --nologo -p:TorchBackend="$backend" ${publish_args[@]+"${publish_args[@]}"}
    done
    for project in Services/Data Services/Registry Gateway; do
      dotnet publish "$project" -c Release -t:PublishContainer --nologo -p:TorchBackend=cpu ${publish_args[@]+"${publish_args[@]}"}
    done
    ;;
  manifest)
    dotnet build AppHost --nologo -v quiet -clp:NoSummary
    dotnet run --no-build --project AppHost --no-launch-profile -- --publisher manifest --output-path ../aspire-manifest.json
    ;;
  *)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    [ "$command" = help ] || exit 2
    ;;
esac
