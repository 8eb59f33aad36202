using System.Diagnostics;
using MsSwift.Modeling;
using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Bench;

/// <summary>
/// One decode step of the continuous engine at the mixed-length case's steady state, with the
/// attention grouping's price per group (<see cref="SlotKvCache.AttentionGroupCost"/>) varied, in
/// one process: every price's steps interleaved round by round, so the machine's drift hits them
/// alike. The slots hold what the mixed case keeps in 16 slots: 1 in 8 requests asks for 128 new
/// tokens and the rest for 16, so long ones hold about half the slot-time; here 8 long sequences
/// (16 to 144 positions) and 8 short ones (16 to 32), placed by the engine's own slot choice.
/// </summary>
internal static class AttentionGroupBenchmark
{
    private const int Slots = 16;
    private const int WarmupSteps = 3;
    private const int TimedSteps = 16;
    private static readonly (string Name, long Cost)[] Prices =
    [
        ("one group (no split)", SlotKvCache.NeverSplit),
        ("price 384", 384),
        ("price 96 (the engine's)", 96),
        ("price 24", 24),
        ("price 0 (split at every length)", 0),
    ];

    public static int Run(int threads, int rounds)
    {
        TorchRuntime.Configure(threads);
        var config = ModelBenchmark.DefaultConfig;
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        manual_seed(5);
        using var model = new GptModel(config);
        model.eval();
        var sequences = Lengths().Select(length => (Cache: Prefill(model, length.Current), length.Expected)).ToArray();

        var stepMs = Prices.ToDictionary(price => price.Name, _ => new List<double>());
        var shape = new Dictionary<string, (double Groups, double Attended)>();
        for (var round = 0; round < rounds; round++)
        {
            var order = round % 2 == 0 ? Prices : Prices.Reverse().ToArray();
            foreach (var (name, cost) in order)
            {
                var (ms, groups, attended) = Measure(model, sequences, cost);
                stepMs[name].Add(ms);
                shape[name] = (groups, attended);
            }
        }

        Console.WriteLine($"model: {config.Layers} layers, width {config.Width}; {TorchRuntime.IntraOpThreads} threads; {Slots} slots: 8 long sequences (16-144 positions) and 8 short (16-32); {TimedSteps} decode steps per price and round, {rounds} rounds interleaved");
        Console.WriteLine();
        Console.WriteLine("| attention groups | groups per step | cached positions read per layer | decode step, median (range) | vs one group |");
        Console.WriteLine("|---|---|---|---|---|");
        var baseline = GatewayBenchmark.Median(stepMs[Prices[0].Name]);
        foreach (var (name, _) in Prices)
        {
            var times = stepMs[name];
            Console.WriteLine(FormattableString.Invariant(
                $"| {name} | {shape[name].Groups:F1} | {shape[name].Attended:F0} | {GatewayBenchmark.Median(times):F2} ms ({times.Min():F2}-{times.Max():F2}) | {GatewayBenchmark.Median(times) / baseline:F2}x |"));
        }

        foreach (var (cache, _) in sequences)
        {
            cache.Dispose();
        }

        return 0;
    }

    /// <summary>Each sequence's current length and the length it is expected to reach (what places it).</summary>
    private static IEnumerable<(int Current, long Expected)> Lengths() =>
        Enumerable.Range(0, Slots / 2).SelectMany(i => new[] { (16 + (i * 128 / 7), 144L), (16 + (i * 16 / 7), 32L) });

    private static KvCache Prefill(GptModel model, int length)
    {
        var cache = new KvCache(model.Config, 1, model.Device, model.DType, capacity: length);
        using var tokens = randint(model.Config.VocabSize, [1, length]);
        using var logits = model.NextTokenLogits(tokens, cache);
        return cache;
    }

    /// <summary>Mean milliseconds per decode step from freshly admitted slots, and the step's groups and attended positions.</summary>
    private static (double Ms, double Groups, double Attended) Measure(GptModel model, (KvCache Cache, long Expected)[] sequences, long cost)
    {
        using var slots = new SlotKvCache(model.Config, Slots, model.Device, model.DType) { AttentionGroupCost = cost };
        foreach (var (cache, expected) in sequences)
        {
            slots.Admit(cache, row: 0, expected);
        }

        using var tokens = randint(model.Config.VocabSize, [Slots, 1]);
        double groups = 0, attended = 0;
        var watch = new Stopwatch();
        for (var step = 0; step < WarmupSteps + TimedSteps; step++)
        {
            using var stepScope = NewDisposeScope();
            if (step == WarmupSteps)
            {
                watch.Start();
            }

            model.DecodeSlots(tokens, slots);
            if (step >= WarmupSteps)
            {
                groups += slots.LastStepGroups;
                attended += slots.LastStepAttendedPositions;
            }
        }

        return (watch.Elapsed.TotalMilliseconds / TimedSteps, groups / TimedSteps, attended / TimedSteps);
    }
}
