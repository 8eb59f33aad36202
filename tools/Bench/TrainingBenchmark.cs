using System.Diagnostics;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Testing.Services;
using MsSwift.Training.ParameterServer;
using MsSwift.Training.Workers;
using static TorchSharp.torch;

namespace MsSwift.Bench;

/// <summary>
/// Data-parallel training wire cost: the parameter server over real gRPC (loopback), fp16 vs
/// fp32 wire, 1 vs 2 workers, all in one run; bytes per step against 2·k·N.
/// </summary>
internal static class TrainingBenchmark
{
    private const int WarmUpSteps = 2;
    private const int Rows = 8;
    private const int Window = 64;

    public static async Task<int> RunAsync(int threads, int steps)
    {
        TorchRuntime.Configure(threads);
        var config = ModelBenchmark.DefaultConfig;
        var parameters = ParameterVector.Length(new GptModel(config).parameters());
        Console.WriteLine($"model: {config.Layers} layers, width {config.Width}, {parameters:N0} parameters; {Rows}x{Window} tokens per worker per step; {steps} measured steps after {WarmUpSteps}; {TorchRuntime.IntraOpThreads} threads shared by server and workers");
        Console.WriteLine();
        Console.WriteLine("| wire | workers k | N (parameter bytes on the wire) | 2·k·N | measured bytes per step | step time |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var format in new[] { WireFormat.Fp32, WireFormat.Fp16 })
        {
            foreach (var workers in new[] { 1, 2 })
            {
                var (bytesPerStep, stepTime) = await MeasureAsync(config, format, workers, steps);
                var n = parameters * WireCodec.BytesPerElement(format);
                Console.WriteLine($"| {format} | {workers} | {n / 1e6:F2} MB | {2.0 * workers * n / 1e6:F2} MB | {bytesPerStep / 1e6:F2} MB | {stepTime.TotalMilliseconds:F0} ms |");
            }
        }

        return 0;
    }

    private static async Task<(double BytesPerStep, TimeSpan StepTime)> MeasureAsync(GptConfig config, WireFormat format, int workerCount, int steps)
    {
        var hyperparameters = new TrainingHyperparameters { WarmupSteps = 1, TotalSteps = steps + WarmUpSteps };
        await using var host = await ParameterServerHost.StartAsync();
        manual_seed(1);
        host.Jobs.Add(new ParameterServerJob("bench", new GptModel(config), hyperparameters, new ParameterServerSettings(format, workerCount, TimeSpan.FromMinutes(5))));
        var workers = Enumerable.Range(0, workerCount)
            .Select(i => new DataParallelWorker(host.Client, "bench", $"w{i}", new GptModel(config), hyperparameters)).ToList();
        try
        {
            foreach (var worker in workers)
            {
                await worker.JoinAsync(CancellationToken.None);
            }

            long bytesBefore = 0;
            var watch = new Stopwatch();
            for (var step = 0; step < WarmUpSteps + steps; step++)
            {
                if (step == WarmUpSteps)
                {
                    bytesBefore = host.Metrics.BytesSent + host.Metrics.BytesReceived;
                    watch.Start();
                }

                // One batch per shard the server assigns (the worker disposes them after its push).
                var at = step;
                await Task.WhenAll(workers.Select(worker => worker.StepAsync(
                    (_, shards, _) => Task.FromResult(shards.Select(shard => Batch(config, at * 100 + shard)).ToList()), format, CancellationToken.None)));
            }

            watch.Stop();
            var bytes = host.Metrics.BytesSent + host.Metrics.BytesReceived - bytesBefore;
            return ((double)bytes / steps, watch.Elapsed / steps);
        }
        finally
        {
            workers.ForEach(worker => worker.Dispose());
        }
    }

    private static TokenBatch Batch(GptConfig config, int seed)
    {
        using var generator = new Generator().manual_seed(seed);
        return TokenBatch.FromWindows(randint(0, config.VocabSize, [Rows, Window + 1], generator: generator));
    }
}
