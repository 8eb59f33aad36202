#!/usr/bin/env bash
# Installs what MsSwift.Aspire needs on Debian/Ubuntu, idempotently:
#   redis-server  - Redis for local-mode runs and tests
#   kcat          - Kafka smoke checks (kcat -b <bootstrap> -L)
#   s3rver        - an S3-compatible server for the checkpoint-store tests (npm, into .tools/)
#   kubectl       - renders the Kubernetes overlays in tests (kubectl kustomize); Debian's
#                   kubernetes-client when no kubectl with kustomize is on PATH
#   libstdc++6 with GLIBCXX_3.4.32 - TorchSharp 0.107's native library needs it;
#                   Debian 12 gets it from trixie through a pinned apt source.
# With --bench also python3-torch and OpenBLAS (the PyTorch side of the benchmarks) and h2load.
# Seconds when everything is present; uses sudo only when not root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run '$*' and sudo is not installed; install it or run as root"
  fi
}

os_id="unknown"; os_version=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  os_id="${ID:-unknown}"; os_version="${VERSION_ID:-}"
  case " ${ID_LIKE:-} " in *" debian "*|*" ubuntu "*) [ "$os_id" = ubuntu ] || [ "$os_id" = debian ] || os_id=debian-like ;; esac
fi

apt_updated=0
apt_install() {
  case "$os_id" in debian|ubuntu|debian-like) ;; *) die "cannot install $* on '$os_id'; install it yourself (only Debian and Ubuntu are set up automatically)";; esac
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v dotnet >/dev/null 2>&1 || die "the .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH"
sdk_major=$(dotnet --version 2>/dev/null | cut -d. -f1)
[ "${sdk_major:-0}" -ge 10 ] || die "the .NET 10 SDK is required; found $(dotnet --version 2>/dev/null || echo none)"

command -v redis-server >/dev/null 2>&1 || apt_install redis-server
command -v kcat >/dev/null 2>&1 || apt_install kcat
kubectl kustomize --help >/dev/null 2>&1 || apt_install kubernetes-client
# s3rver: the S3-compatible server the checkpoint-store tests run against, kept in .tools/.
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
[ -f "$root/.tools/node_modules/s3rver/bin/s3rver.js" ] || { log "installing s3rver"; npm install --prefix "$root/.tools" --no-audit --no-fund --silent s3rver@3.7.1 >/dev/null; }

libstdcxx=$( (ldconfig -p 2>/dev/null || true) | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -z "$libstdcxx" ] || ! grep -qa 'GLIBCXX_3\.4\.32' "$libstdcxx"; then
  case "$os_id:$os_version" in
    debian:12)
      log "Debian 12's libstdc++ lacks GLIBCXX_3.4.32 (TorchSharp); taking libstdc++6 from trixie (pinned, nothing else follows)"
      echo 'deb http://deb.debian.org/debian trixie main' | as_root tee /etc/apt/sources.list.d/msswift-trixie.list >/dev/null
      printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' | as_root tee /etc/apt/preferences.d/msswift-trixie >/dev/null
      as_root apt-get update -qq; apt_updated=1
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie libstdc++6 >/dev/null
      ;;
    *) die "libstdc++ with GLIBCXX_3.4.32 (GCC 13+) is required by TorchSharp and '$os_id $os_version' is not set up automatically; use Debian 12/13 or Ubuntu 24.04+" ;;
  esac
  libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
  grep -qa 'GLIBCXX_3\.4\.32' "$libstdcxx" || die "libstdc++ upgrade did not provide GLIBCXX_3.4.32 ($libstdcxx)"
fi
if [ "${1:-}" = "--bench" ]; then
  # PyTorch to compare against; Debian's build uses the reference BLAS unless OpenBLAS is installed.
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || apt_install python3-torch python3-numpy
  [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] || apt_install libopenblas0-pthread
  # h2load drives the gateway benchmark's gRPC load.
  command -v h2load >/dev/null 2>&1 || apt_install nghttp2-client
fi
log "ready: dotnet $(dotnet --version), redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'), kcat, s3rver, libstdc++ GLIBCXX_3.4.32"
