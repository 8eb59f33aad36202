using System.Diagnostics;
using MsSwift.Modeling;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Bench;

/// <summary>
/// Inference batching benchmark, on the serving engine (the gRPC and HTTP front ends add the same
/// cost to every configuration): dynamic batching on (continuous, batch 16) vs off (batch 1) at 1,
/// 8 and 64 concurrent clients; then continuous vs request-level batching with mixed output
/// lengths; then time to first token behind a long shared prefix, cold vs from the prefix cache
/// (<c>--parts</c> picks among the three). Every measurement runs in a fresh process (this program with <c>inference-case</c>),
/// one after another: libtorch's per-thread state from one configuration otherwise slows the next
/// (a 16-row decode step measured 1.9 ms in a fresh process and 3.9 ms after other configurations
/// had run in it), which would favour whichever configuration runs first.
/// </summary>
internal static class InferenceBenchmark
{
    private const int PromptTokens = 16;
    private const int NewTokens = 32;
    private const int MixedClients = 64;
    private const int MixedRequests = 512;
    private const int Rounds = 3;
    private const int SharedPrefixTokens = 200;
    private const int PrefixRequests = 100;

    /// <summary>How long each uniform-length case runs: short runs swung by a third on this shared machine.</summary>
    private static readonly TimeSpan UniformDuration = TimeSpan.FromSeconds(5);
    private static readonly int[] ClientCounts = [1, 8, 64];

    public static async Task<int> RunAsync(int threads, string[] parts)
    {
        TorchRuntime.Configure(threads);
        Console.WriteLine($"model: {ModelBenchmark.DefaultConfig.Layers} layers, width {ModelBenchmark.DefaultConfig.Width}; {TorchRuntime.IntraOpThreads} threads; prompts {PromptTokens} tokens, {NewTokens} new tokens, greedy; each measurement in a fresh process");
        if (parts.Contains("uniform"))
        {
            Console.WriteLine();
            Console.WriteLine("| clients | batching | requests/s | tokens/s | p50 latency | p99 latency | throughput on / off |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            // Every case three times, alternated, best of each: the machine's background load drifts over a run.
            var uniform = await BestOfAsync(threads, [.. ClientCounts.SelectMany(clients => new[] { $"off-{clients}", $"on-{clients}" })]);
            foreach (var clients in ClientCounts)
            {
                var off = uniform[$"off-{clients}"];
                var on = uniform[$"on-{clients}"];
                Console.WriteLine($"| {clients} | off (batch 1) | {off.RequestsPerSecond:F1} | {off.TokensPerSecond:F0} | {off.P50:F0} ms | {off.P99:F0} ms | |");
                Console.WriteLine($"| {clients} | on (continuous, batch 16) | {on.RequestsPerSecond:F1} | {on.TokensPerSecond:F0} | {on.P50:F0} ms | {on.P99:F0} ms | {on.RequestsPerSecond / off.RequestsPerSecond:F2}x |");
            }
        }

        if (parts.Contains("mixed"))
        {
            var mixed = await BestOfAsync(threads, ["static", "early-exit", "continuous"]);
            var continuous = mixed["continuous"].TokensPerSecond;
            Console.WriteLine();
            Console.WriteLine($"Mixed output lengths ({MixedRequests} requests from {MixedClients} clients, 1 in 8 asks for 128 tokens, the rest 16; batch 16):");
            Console.WriteLine();
            Console.WriteLine("| batching | tokens/s | continuous / this |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| request-level, static (every row computed until the batch's longest ends) | {mixed["static"].TokensPerSecond:F0} | {continuous / mixed["static"].TokensPerSecond:F2}x |");
            Console.WriteLine($"| request-level, early exit (finished rows leave; nobody joins) | {mixed["early-exit"].TokensPerSecond:F0} | {continuous / mixed["early-exit"].TokensPerSecond:F2}x |");
            Console.WriteLine($"| continuous (sequences join and leave between steps) | {continuous:F0} | |");
            // For the continuous case P50 and P99 carry its engine's average step (prefills included) and rows per step, GapP50 and GapP99 its prefills' share and the step alone.
            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant($"continuous: {mixed["continuous"].P50:F2} ms per decode step (prefills included), {mixed["continuous"].P99:F1} rows per step; prefills {mixed["continuous"].GapP50:P0} of the run, a decode step alone {mixed["continuous"].GapP99:F2} ms"));
        }

        if (parts.Contains("prefix"))
        {
            // Lowest median wins here: the cases measure latency, not throughput.
            var prefix = await BestOfAsync(threads, ["ttft-cold", "ttft-warm"], lowerIsBetter: true);
            var (cold, warm) = (prefix["ttft-cold"], prefix["ttft-warm"]);
            Console.WriteLine();
            Console.WriteLine($"Time to first token with a {SharedPrefixTokens}-token shared prefix ({PrefixRequests} requests one after another, each the prefix plus {PromptTokens} tokens of its own; batch 16):");
            Console.WriteLine();
            Console.WriteLine("| prefix | p50 | p99 | warm / cold (p50) |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine(FormattableString.Invariant($"| cold (a prefix never seen before) | {cold.P50:F2} ms | {cold.P99:F2} ms | |"));
            Console.WriteLine(FormattableString.Invariant($"| warm (the prefix in the prefix cache) | {warm.P50:F2} ms | {warm.P99:F2} ms | {warm.P50 / cold.P50:F2}x |"));
        }

        return 0;
    }

    /// <summary>One measurement, in this process (started by <see cref="CaseAsync"/>): prints its result line.</summary>
    public static async Task<int> RunCaseAsync(string name, int threads)
    {
        TorchRuntime.Configure(threads);
        manual_seed(0);
        using var model = new GptModel(ModelBenchmark.DefaultConfig);
        model.eval();
        var tokenizer = new ByteTokenizer();
        var parts = name.Split('-');
        var result = name switch
        {
            "static" => MeasureRequestLevel(model, tokenizer, maxBatch: 16, MixedRequests, Mixed, earlyExit: false),
            "early-exit" => MeasureRequestLevel(model, tokenizer, maxBatch: 16, MixedRequests, Mixed, earlyExit: true),
            "continuous" => await MeasureAsync(model, tokenizer, maxBatch: 16, MixedClients, MixedRequests, duration: null, Mixed, reportSteps: true),
            "ttft-cold" => await MeasurePrefixAsync(model, tokenizer, warm: false),
            "ttft-warm" => await MeasurePrefixAsync(model, tokenizer, warm: true),
            _ when parts is ["off" or "on", var text] && int.TryParse(text, out var clients) =>
                await MeasureAsync(model, tokenizer, maxBatch: parts[0] == "on" ? 16 : 1, clients, int.MaxValue, UniformDuration, _ => NewTokens),
            _ when SchedulerBenchmark.Options(name) is { } scheduled =>
                await MeasureAsync(model, tokenizer, scheduled.Options, scheduled.Clients, int.MaxValue, UniformDuration, _ => NewTokens),
            _ => throw new ArgumentException($"unknown case '{name}'", nameof(name)),
        };
        Console.WriteLine(FormattableString.Invariant($"{ResultPrefix}{result.RequestsPerSecond} {result.TokensPerSecond} {result.P50} {result.P99} {result.GapP50} {result.GapP99}"));
        return 0;
    }

    private const string ResultPrefix = "case-result ";

    /// <summary>Mixed lengths: one request in eight wants 8x the tokens, the rest are short.</summary>
    private static int Mixed(int i) => i % 8 == 0 ? 128 : 16;

    /// <summary>Each case <paramref name="rounds"/> times, in turn (a b c a b c ...), keeping each one's best run (by throughput, or by the lowest median).</summary>
    internal static async Task<Dictionary<string, Measurement>> BestOfAsync(int threads, string[] names, int rounds = Rounds, bool lowerIsBetter = false)
    {
        var runs = await RoundsAsync(threads, names, rounds);
        return runs.ToDictionary(
            pair => pair.Key,
            pair => lowerIsBetter ? pair.Value.MinBy(run => run.P50)! : pair.Value.MaxBy(run => run.TokensPerSecond)!);
    }

    /// <summary>
    /// Each case <paramref name="rounds"/> times; every run kept, run i of every case in round i.
    /// In turn (a b c a b c ...), or with <paramref name="serpentine"/> every other round reversed
    /// (a b c c b a ...), so that on a machine whose load drifts each pair of cases is, over the
    /// rounds, as often early as late.
    /// </summary>
    internal static async Task<Dictionary<string, List<Measurement>>> RoundsAsync(int threads, string[] names, int rounds, bool serpentine = false)
    {
        var runs = names.ToDictionary(name => name, _ => new List<Measurement>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var name in serpentine && round % 2 == 1 ? names.Reverse() : names)
            {
                runs[name].Add(await CaseAsync(threads, name));
            }
        }

        return runs;
    }

    private static async Task<Measurement> CaseAsync(int threads, string name)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var arguments = new List<string>();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            arguments.Add(typeof(InferenceBenchmark).Assembly.Location);
        }

        arguments.AddRange(["inference-case", name, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var process = Process.Start(new ProcessStartInfo(self, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("the benchmark could not start itself");
        var output = await process.StandardOutput.ReadToEndAsync();
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = output.Split('\n').FirstOrDefault(candidate => candidate.StartsWith(ResultPrefix, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"case '{name}' failed (exit {process.ExitCode}):{Environment.NewLine}{output}{errors}");
        var values = line[ResultPrefix.Length..].Split(' ').Select(value => double.Parse(value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new Measurement(values[0], values[1], values[2], values[3], values[4], values[5]);
    }

    internal sealed record Measurement(double RequestsPerSecond, double TokensPerSecond, double P50, double P99, double GapP50 = 0, double GapP99 = 0);

    /// <summary>
    /// <paramref name="clients"/> callers, each sending its next request when the previous one is
    /// answered, until <paramref name="requests"/> were sent or <paramref name="duration"/> passed.
    /// With <paramref name="reportSteps"/>, the engine's average decode step (ms, prefills
    /// included) and rows per step take the latencies' places, and the share of the run's time
    /// spent in prefills and the decode step alone (ms) the gaps'.
    /// </summary>
    private static Task<Measurement> MeasureAsync(GptModel model, ITokenizer tokenizer, int maxBatch, int clients, int requests, TimeSpan? duration, Func<int, int> newTokens, bool reportSteps = false) =>
        MeasureAsync(model, tokenizer, new BatcherOptions { MaxBatchSize = maxBatch, MaxQueueSize = 4096, Adaptive = false }, clients, requests, duration, newTokens, reportSteps);

    private static async Task<Measurement> MeasureAsync(GptModel model, ITokenizer tokenizer, BatcherOptions options, int clients, int requests, TimeSpan? duration, Func<int, int> newTokens, bool reportSteps = false)
    {
        await using var batcher = new ContinuousBatcher(model, tokenizer, options);
        await WarmUpAsync(batcher, options.MaxBatchSize);
        var (warmSteps, warmTokens, warmPrefill, warmDecode) = (batcher.DecodeSteps, batcher.DecodedTokens, batcher.PrefillTime, batcher.DecodeTime);
        var gaps = new List<double>();
        var next = -1;
        var latencies = new List<double>();
        long tokens = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int index;
            while (watch.Elapsed < (duration ?? TimeSpan.MaxValue) && (index = Interlocked.Increment(ref next)) < requests)
            {
                var started = Stopwatch.GetTimestamp();
                var handle = batcher.Submit(Request(index, newTokens(index)));
                var result = await handle.Completion;
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (latencies)
                {
                    latencies.Add(elapsed);
                    tokens += result.Tokens.Count;
                    // The engine's own timestamps: mean time between this request's tokens after the first.
                    if (result.Tokens.Count > 1 && handle.FirstTokenAt > 0)
                    {
                        gaps.Add(Stopwatch.GetElapsedTime(handle.FirstTokenAt, handle.LastTokenAt).TotalMilliseconds / (result.Tokens.Count - 1));
                    }
                }
            }
        })));
        var seconds = watch.Elapsed.TotalSeconds;
        latencies.Sort();
        gaps.Sort();
        if (reportSteps)
        {
            var steps = batcher.DecodeSteps - warmSteps;
            var (prefill, decode) = (batcher.PrefillTime - warmPrefill, batcher.DecodeTime - warmDecode);
            return new Measurement(latencies.Count / seconds, tokens / seconds, seconds * 1000 / steps, (batcher.DecodedTokens - warmTokens) / (double)steps,
                prefill.TotalSeconds / seconds, decode.TotalMilliseconds / steps);
        }

        return new Measurement(latencies.Count / seconds, tokens / seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), Percentile(gaps, 0.50), Percentile(gaps, 0.99));
    }

    /// <summary>
    /// Time to first token of <see cref="PrefixRequests"/> requests sent one after another, each a
    /// <see cref="SharedPrefixTokens"/>-token prefix plus a question of its own: cold, every prefix
    /// is new; warm, all share one prefix that an earlier request left in the prefix cache.
    /// </summary>
    private static async Task<Measurement> MeasurePrefixAsync(GptModel model, ITokenizer tokenizer, bool warm)
    {
        await using var batcher = new ContinuousBatcher(model, tokenizer, new BatcherOptions { MaxBatchSize = 16, MaxQueueSize = 4096 });
        await WarmUpAsync(batcher, 16);
        var shared = Tokens(seed: -1, SharedPrefixTokens);
        GenerationRequest Ask(int index) => new(
            [.. warm ? shared : Tokens(seed: -2 - index, SharedPrefixTokens), .. Tokens(seed: index, PromptTokens)],
            new GenerationOptions { MaxNewTokens = 1 });
        if (warm)
        {
            await batcher.Submit(Ask(-1)).Completion;
        }

        var latencies = new List<double>();
        for (var i = 0; i < PrefixRequests; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await batcher.Submit(Ask(i)).Completion;
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        if (warm && batcher.PrefixCacheHits < (long)PrefixRequests * (SharedPrefixTokens / PrefixCache.BlockTokens) * PrefixCache.BlockTokens)
        {
            throw new InvalidOperationException($"only {batcher.PrefixCacheHits} prompt tokens came from the prefix cache");
        }

        latencies.Sort();
        return new Measurement(0, 0, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
    }

    private static int[] Tokens(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(256)).ToArray();
    }

    /// <summary>
    /// libtorch's kernels and caches warm up per thread, and each batcher has its own engine
    /// thread: the first few hundred steps of a new one run several times slower, so every
    /// configuration gets the same warm-up before it is measured.
    /// </summary>
    private static async Task WarmUpAsync(ContinuousBatcher batcher, int maxBatch)
    {
        for (var round = 0; round < 3; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, maxBatch).Select(i => batcher.Submit(Request(i, 64)).Completion));
        }
    }

    /// <summary>
    /// Request-level batching: take up to a batch of waiting requests, run them to the end, repeat.
    /// Static batching computes every row until the batch's longest request ends (what a plain
    /// batched generate does) and counts only the tokens each request asked for; early exit drops
    /// finished rows from the batch (<see cref="TextGenerator"/>), but still admits nobody new.
    /// </summary>
    private static Measurement MeasureRequestLevel(GptModel model, ITokenizer tokenizer, int maxBatch, int requests, Func<int, int> newTokens, bool earlyExit)
    {
        var generator = new TextGenerator(model, tokenizer);
        for (var round = 0; round < 3; round++)
        {
            generator.Generate(Enumerable.Range(0, maxBatch).Select(i => Request(i, 64)).ToList());
        }

        long tokens = 0;
        var watch = Stopwatch.StartNew();
        foreach (var batch in Enumerable.Range(0, requests).Chunk(maxBatch))
        {
            var longest = batch.Max(newTokens);
            var results = generator.Generate(batch.Select(index => Request(index, earlyExit ? newTokens(index) : longest)).ToList());
            tokens += batch.Zip(results, (index, result) => Math.Min(newTokens(index), result.Tokens.Count)).Sum();
        }

        var seconds = watch.Elapsed.TotalSeconds;
        return new Measurement(requests / seconds, tokens / seconds, 0, 0);
    }

    private static GenerationRequest Request(int index, int maxNewTokens)
    {
        var random = new Random(index);
        return new GenerationRequest(Enumerable.Range(0, PromptTokens).Select(_ => random.Next(256)).ToArray(),
            new GenerationOptions { MaxNewTokens = maxNewTokens });
    }

    private static double Percentile(List<double> sorted, double quantile) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(quantile * sorted.Count) - 1)];
}
