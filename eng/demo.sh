#!/usr/bin/env bash
# ./build.sh demo [--exit] [--steps N] [--workers N]
# Brings the cluster up, ingests the bundled corpus, trains with two workers (live progress),
# registers the result as demo v2, promotes it, keeps the bundled v1 as a 10% canary, answers a
# prompt through the gateway, writes the loss plot, and leaves the cluster running (--exit stops it).
# ./build.sh default-model runs the same path with the default model's recipe and saves the result
# as data/models/shakespeare (what ./build.sh run serves first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=demo steps=300 workers=2 stop_at_end=false
while [ $# -gt 0 ]; do
  case "$1" in
    --exit) stop_at_end=true ;;
    --steps) shift; steps=${1:?--steps needs a number} ;;
    --workers) shift; workers=${1:?--workers needs a number} ;;
    --default-model) mode=default-model stop_at_end=true ;;
    *) echo "demo: unknown option $1 (options: --exit, --steps N, --workers N)" >&2; exit 2 ;;
  esac
  shift
done

state="$root/.data/demo"
mkdir -p "$state"
log="$state/apphost.log"
# Where the AppHost writes the gateway's addresses and key for the CLI (LocalClusterFile.DefaultPath).
cluster_file="${XDG_CONFIG_HOME:-$HOME/.config}/msswift/local-cluster.json"
msswift() { "$root/msswift" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
milliseconds() { echo $(( $(date +%s%N) / 1000000 )); }
seconds_since() { local ms=$(( $(milliseconds) - $1 )); printf '%d.%d' $(( ms / 1000 )) $(( ms % 1000 / 100 )); }
phase_start=$(milliseconds)
phase() { echo "   ($1: $(seconds_since "$phase_start") s)" | tee -a "$state/phases.txt"; phase_start=$(milliseconds); }
: > "$state/phases.txt"

port_taken() { (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; }
# A cluster that is still stopping frees the port within seconds.
for _ in $(seq 1 15); do port_taken || break; sleep 2; done
if port_taken; then
  echo "demo: port 8080 is taken (is ./build.sh run or an earlier demo running? stop it first: kill -- -\$(cat $state/apphost.pid))" >&2
  exit 1
fi

rm -f "$cluster_file"

step "Building (first run: restores packages)"
eng/setup.sh
dotnet build MsSwift.Aspire.sln --nologo -v quiet -clp:NoSummary
dotnet build tools/Cli -c Release --nologo -v quiet -clp:NoSummary
export MSSWIFT_NO_REBUILD=1
phase build

step "Starting the cluster with $workers training workers (log: $log)"
apphost_args=(--Training:Workers="$workers")
# The default model is made from scratch: nothing may be seeded into the registry first.
if [ "$mode" = default-model ]; then
  rm -rf "$state/redis"
  apphost_args+=(--DefaultModel:Directory= --Redis:DataDirectory="$state/redis")
fi
setsid dotnet run --no-build --project AppHost -- "${apphost_args[@]}" > "$log" 2>&1 &
apphost=$!
echo "$apphost" > "$state/apphost.pid"
# setsid: the AppHost leads its own process group, so one signal stops it and everything it started.
# --exit waits until everything has stopped, so the ports are free when the script returns.
trap '[ "$stop_at_end" = true ] && { kill -TERM -- "-$apphost" 2>/dev/null; wait "$apphost" 2>/dev/null; }; true' EXIT
for _ in $(seq 1 300); do
  [ -f "$cluster_file" ] && break
  kill -0 "$apphost" 2>/dev/null || { echo "demo: the AppHost stopped; see $log" >&2; tail -20 "$log" >&2; exit 1; }
  sleep 1
done
[ -f "$cluster_file" ] || { echo "demo: the gateway was not ready after 5 minutes; see $log" >&2; exit 1; }
dashboard=$(grep -o 'http://localhost:18888/login?t=[0-9a-f]*' "$log" | head -1 || true)
echo "Dashboard: ${dashboard:-http://localhost:18888}"
phase start-up

step "Ingesting the bundled corpus (data/corpus/tinyshakespeare.txt)"
echo "\$ msswift datasets upload data/corpus/tinyshakespeare.txt --name shakespeare"
msswift datasets upload data/corpus/tinyshakespeare.txt --name shakespeare
phase ingest

model=demo
[ "$mode" = default-model ] && model=shakespeare
step "Training $model on it with $workers workers ($steps steps; Ctrl+C detaches, the job keeps running)"
# Windows as long as the context: positions a job never trains on make noise at generation time.
train=(train --dataset shakespeare --model "$model" --workers "$workers" --steps "$steps" --batch-size 8 --window 256
       --learning-rate 3e-3 --eval-every 50 --checkpoint-every 100 --seed 1)
echo "\$ msswift ${train[*]}"
train_start=$(milliseconds)
msswift "${train[@]}"
# The newest job is ours; its status says what it registered (the CLI's JSON is compact, one document per line).
json_field() { grep -o "\"$1\":\"\\{0,1\\}[^\",}]*" <<<"$2" | head -1 | sed 's/.*:"\{0,1\}//' || true; }
if [ "$mode" = default-model ]; then
  # A fresh registry (its own Redis): the first version.
  version=v1
  echo "   (training: $steps steps in $(seconds_since "$train_start") s)" | tee -a "$state/phases.txt"
else
  job_json=$(msswift jobs list --limit 1 --json)
  job=$(json_field jobId "$job_json")
  version=$(json_field registeredVersion "$job_json")
  echo "   (training: $steps steps in $(seconds_since "$train_start") s, $(printf '%.0f' "$(json_field tokensPerSecond "$job_json")") tokens/s at the end)" | tee -a "$state/phases.txt"
fi
phase_start=$(milliseconds)
if [ -z "$version" ]; then
  echo "Job $job has not finished (detached?): it keeps running. Follow it with ./msswift jobs attach $job; the cluster keeps running."
  stop_at_end=false
  exit 0
fi

if [ "$mode" = default-model ]; then
  step "Saving $model $version as the default model (data/models/shakespeare)"
  # The registered version's record: its checkpoint (in the local store) and what the seed keeps.
  msswift models show "$model" --json | python3 -c '
import json, shutil, sys
version = next(v for v in json.load(sys.stdin)["versions"] if v["version"] == sys.argv[1])
shutil.copyfile(".data/checkpoints/" + version["checkpoint"], "data/models/shakespeare/model.safetensors")
json.dump(version, open("data/models/shakespeare/version.json", "w"), indent=2)' "$version"
  ls -l data/models/shakespeare
  exit 0
fi

step "Registered $model $version: promoting it; the bundled v1 keeps 10% of the traffic as a canary"
echo "\$ msswift models promote $model $version"
msswift models promote "$model" "$version"
echo "\$ msswift models canary $model v1 --percent 10"
msswift models canary "$model" v1 --percent 10
phase registration

step "Asking it through the gateway: the new version, then the bundled one (2000 steps) for comparison"
ask=(--max-tokens 160 --temperature 0.8 --top-k 40 --seed 7 --stream)
# Inference loads a promoted version on its model event, within seconds: ask once it answers.
for _ in $(seq 1 60); do msswift predict "ROMEO:" --model-version "$version" --max-tokens 1 --json >/dev/null 2>&1 && break; sleep 1; done
echo "\$ msswift predict \"ROMEO:\" --model-version $version ${ask[*]}"
msswift predict "ROMEO:" --model-version "$version" "${ask[@]}"
phase first-answer
echo "\$ msswift predict \"ROMEO:\" --model-version v1 ${ask[*]}"
msswift predict "ROMEO:" --model-version v1 "${ask[@]}"

step "Loss curve"
msswift jobs plot "$job" --output "$state/$job-loss"

cat <<DONE

Phases: $(tr '\n' ' ' < "$state/phases.txt")
Dashboard:  ${dashboard:-http://localhost:18888} (the job's traces, logs and metrics)
Loss plot:  $state/$job-loss.png (and .svg)
Try next (the CLI finds this cluster through $cluster_file):
  ./msswift chat
  ./msswift predict "JULIET:" --temperature 0.8 --top-k 40 --stream
  ./msswift models show demo
  ./msswift models rollback demo
  ./msswift jobs list
DONE
if [ "$stop_at_end" = true ]; then
  echo "Stopping the cluster (--exit)."
else
  echo "The cluster keeps running; stop it with: kill -- -$apphost"
fi
