using System.Globalization;
using MsSwift.Modeling;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Generation.Scheduling;

namespace MsSwift.Bench;

/// <summary>
/// The adaptive scheduler (64 slots, nothing tuned) against the fixed policy at every batch size
/// (1, 4, 8, 16, 32, 64) at 1, 8 and 64 closed-loop clients, each case in a fresh process like
/// <see cref="InferenceBenchmark"/>; then the adaptive scheduler at 64 clients with an
/// inter-token latency target, to see how well the measured latency holds it. Every case runs
/// <c>rounds</c> times, in serpentine order, and the comparison is paired: in each round the
/// adaptive run is divided by each fixed size's run of the same round, and the median of those
/// ratios is reported. This machine's load drifts by 2x over minutes, so unpaired figures (a best
/// of runs, a median of runs) compare the moments the runs happened to get more than the
/// schedulers; at one client every configuration does the same batch-1 work, and the best of six
/// fixed sizes' runs would be the machine's luckiest moment, not the best setting.
/// </summary>
internal static class SchedulerBenchmark
{
    private const int Slots = 64;
    private static readonly int[] ClientCounts = [1, 8, 64];
    private static readonly int[] FixedSizes = [1, 4, 8, 16, 32, 64];

    /// <summary>The target case's inter-token latency, in milliseconds.</summary>
    private const int TargetMs = 4;

    public static async Task<int> RunAsync(int threads, int rounds)
    {
        TorchRuntime.Configure(threads);
        Console.WriteLine($"model: {ModelBenchmark.DefaultConfig.Layers} layers, width {ModelBenchmark.DefaultConfig.Width}; {TorchRuntime.IntraOpThreads} threads; prompts 16 tokens, 32 new tokens, greedy; each case in a fresh process, {rounds} rounds; tokens/s: median (range); adaptive / this: median of the {rounds} rounds' ratios");
        Console.WriteLine();
        var names = ClientCounts.SelectMany(clients => FixedSizes.Select(size => $"fixed{size}-{clients}").Append($"adaptive-{clients}")).Append($"target{TargetMs}-64").ToArray();
        var runs = await InferenceBenchmark.RoundsAsync(threads, names, rounds, serpentine: true);
        var measured = runs.ToDictionary(pair => pair.Key, pair => Median(pair.Value));
        string Throughput(string name) => Invariant($"{measured[name].TokensPerSecond:F0} ({runs[name].Min(run => run.TokensPerSecond):F0}-{runs[name].Max(run => run.TokensPerSecond):F0})");
        Console.WriteLine("| clients | scheduler | tokens/s | p50 latency | p50 inter-token | adaptive / this |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var clients in ClientCounts)
        {
            var adaptive = measured[$"adaptive-{clients}"];
            var paired = FixedSizes.ToDictionary(size => size, size => PairedRatio(runs[$"adaptive-{clients}"], runs[$"fixed{size}-{clients}"]));
            foreach (var size in FixedSizes)
            {
                var fixedCase = measured[$"fixed{size}-{clients}"];
                Console.WriteLine(Invariant($"| {clients} | fixed, batch {size} | {Throughput($"fixed{size}-{clients}")} | {fixedCase.P50:F0} ms | {fixedCase.GapP50:F2} ms | {paired[size]:F2}x |"));
            }

            var (strongest, ratio) = paired.MinBy(pair => pair.Value);
            Console.WriteLine(Invariant($"| {clients} | **adaptive** (64 slots) | {Throughput($"adaptive-{clients}")} | {adaptive.P50:F0} ms | {adaptive.GapP50:F2} ms | {ratio:F2}x of the best fixed (batch {strongest}) |"));
        }

        var target = measured[$"target{TargetMs}-64"];
        Console.WriteLine();
        Console.WriteLine(Invariant($"Adaptive at 64 clients with Inference:LatencyTargets:{{model}}:TargetInterTokenLatencyMs = {TargetMs}: {target.TokensPerSecond:F0} tokens/s; per-request mean inter-token latency p50 {target.GapP50:F2} ms, p99 {target.GapP99:F2} ms ({target.GapP50 / TargetMs:F2}x and {target.GapP99 / TargetMs:F2}x the target)"));
        return 0;
    }

    /// <summary>The median over rounds of <paramref name="adaptive"/>'s throughput over <paramref name="fixedSize"/>'s in the same round.</summary>
    private static double PairedRatio(List<InferenceBenchmark.Measurement> adaptive, List<InferenceBenchmark.Measurement> fixedSize) =>
        GatewayBenchmark.Median(adaptive.Zip(fixedSize, (a, f) => a.TokensPerSecond / f.TokensPerSecond));

    /// <summary>The run with the median throughput (the lower middle one of an even count), latencies and all.</summary>
    private static InferenceBenchmark.Measurement Median(List<InferenceBenchmark.Measurement> runs) =>
        runs.OrderBy(run => run.TokensPerSecond).ElementAt((runs.Count - 1) / 2);

    /// <summary>The batcher options and client count a case name stands for, or null for a name of another benchmark.</summary>
    public static (BatcherOptions Options, int Clients)? Options(string name)
    {
        var parts = name.Split('-');
        if (parts.Length != 2 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var clients))
        {
            return null;
        }

        var options = new BatcherOptions { MaxBatchSize = Slots, MaxQueueSize = 4096 };
        return parts[0] switch
        {
            "adaptive" => (options, clients),
            _ when parts[0].StartsWith("fixed", StringComparison.Ordinal) && int.TryParse(parts[0]["fixed".Length..], CultureInfo.InvariantCulture, out var size) =>
                (options with { MaxBatchSize = size, Adaptive = false }, clients),
            _ when parts[0].StartsWith("target", StringComparison.Ordinal) && int.TryParse(parts[0]["target".Length..], CultureInfo.InvariantCulture, out var ms) =>
                (options with { Targets = new LatencyTargets { TargetInterTokenLatency = TimeSpan.FromMilliseconds(ms) } }, clients),
            _ => null,
        };
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
