using MsSwift.Bench;

// Benchmarks, run side by side in one process so ratios hold on a noisy machine.
//   model [--threads N] [--repeats N] [--python PATH]   model core vs PyTorch (see docs/BENCHMARKS.md)
//   int8 [--threads N] [--repeats N] [--python PATH]   int8 vs fp32 serving: tokens/s at batch 1 and 16, memory, bandwidth share
//   inference [--threads N] [--parts uniform,mixed,prefix]  batching on vs off, continuous vs request-level, prefix cache cold vs warm
//   scheduler [--threads N] [--rounds N (5)]             the adaptive scheduler vs every fixed batch size at 1, 8, 64 clients
//   attention-groups [--threads N] [--rounds N (9)]      a mixed-length decode step at several prices per attention group
//   gateway [--seconds N] [--rate N] [--profile DIR]     the same gRPC load direct, through bare YARP and through the gateway (h2load);
//                                                        --profile: also record each proxy with dotnet-trace/dotnet-counters (eng/profile-gateway.sh);
//                                                        --profile-only: only that recording, no measured runs
//   profile-report FILE.nettrace                         where a recorded proxy's CPU and allocations go
//   replicas [--requests N] [--tokens N]                one inference replica vs two behind the gateway, 64 clients (h2load)
//   training [--threads N] [--steps N]                   parameter-server wire: fp16 vs fp32, 1 vs 2 workers
//   data [--gib N] [--calls N]                           ingest and serve a synthetic text file past 2 GiB (written under /tmp, deleted after)
//   training-cluster [--threads N] [--steps N] [--warmup N] [--corpus PATH] [--workers 1,2,4] [--rounds N]
//                                                        a job through the cluster's processes vs one process; 1, 2, 4 workers
var command = args.FirstOrDefault();
int Option(string name, int fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var value) ? value : fallback;
string Text(string name, string fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;

return command switch
{
    "model" => await ModelBenchmark.RunAsync(Option("--threads", 2), Option("--repeats", 10), Text("--python", "/usr/bin/python3")),
    "int8" => await Int8Benchmark.RunAsync(Option("--threads", 2), Option("--repeats", 3), Text("--python", "/usr/bin/python3")),
    "inference" => await InferenceBenchmark.RunAsync(Option("--threads", 2), Text("--parts", "uniform,mixed,prefix").Split(',')),
    "scheduler" => await SchedulerBenchmark.RunAsync(Option("--threads", 2), Option("--rounds", 5)),
    "attention-groups" => AttentionGroupBenchmark.Run(Option("--threads", 2), Option("--rounds", 9)),
    "inference-case" => await InferenceBenchmark.RunCaseAsync(args.ElementAtOrDefault(1) ?? "", Option("--threads", 2)),
    "gateway" => await GatewayBenchmark.RunAsync(Option("--seconds", 2), Option("--rate", 200), Text("--profile", ""), args.Contains("--profile-only")),
    "profile-report" when args.Length > 1 => Report(args[1]),
    "replicas" => await ReplicaBenchmark.RunAsync(Option("--requests", 3000), Option("--tokens", 16)),
    "training" => await TrainingBenchmark.RunAsync(Option("--threads", 2), Option("--steps", 10)),
    "data" => await DataBenchmark.RunAsync(double.Parse(Text("--gib", "2.5"), System.Globalization.CultureInfo.InvariantCulture), Option("--calls", 200)),
    "training-cluster" => await ClusterTrainingBenchmark.RunAsync(Option("--threads", Environment.ProcessorCount), Option("--steps", 30), Option("--warmup", 15), Text("--corpus", "data/corpus/tinyshakespeare.txt"), [.. Text("--workers", "1,2,4").Split(',').Select(int.Parse)], Option("--rounds", 3)),
    _ => Usage(),
};

static int Report(string trace)
{
    Console.WriteLine(ProfileReport.Summarize(trace));
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: bench model [--threads N] [--repeats N] [--python PATH] | bench int8 [--threads N] [--repeats N] [--python PATH] | bench inference [--threads N] [--parts uniform,mixed,prefix] | bench scheduler [--threads N] [--rounds N] | bench attention-groups [--threads N] [--rounds N] | bench gateway [--seconds N] [--rate N] [--profile DIR [--profile-only]] | bench profile-report FILE.nettrace | bench replicas [--requests N] [--tokens N] | bench training [--threads N] [--steps N] | bench training-cluster [--threads N] [--steps N] [--warmup N] [--corpus PATH] [--workers 1,2,4] [--rounds N] | bench data [--gib N] [--calls N]");
    return 2;
}
