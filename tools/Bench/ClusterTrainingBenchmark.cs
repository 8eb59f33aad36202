using System.Diagnostics;
using MsSwift.Contracts.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.Data;
using MsSwift.Training.Workers;
using static TorchSharp.torch;

namespace MsSwift.Bench;

/// <summary>
/// The training control plane end to end (issue 14): a job through the cluster's public API with
/// real processes, against the same steps in one process (<see cref="GptTrainer"/> directly), and
/// the same job with 1, 2 and 4 workers. The in-process runs happen while the cluster is up and
/// idle, before and after the cluster runs, so both sides see the same background load.
/// </summary>
internal static class ClusterTrainingBenchmark
{
    private const string Dataset = "bench";
    private const int Rows = 8;
    private const int Window = 256;
    private static readonly ModelShape Shape = new() { Layers = 2, Heads = 4, Width = 128, ContextLength = 256 };
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(5);

    /// <param name="threads">libtorch threads of the in-process run, the coordinator and a lone worker (default: one per core).</param>
    /// <param name="steps">Measured steps per run, after <paramref name="warmUpSteps"/>.</param>
    /// <param name="warmUpSteps">Steps before the measured ones: libtorch's first passes, workers joining.</param>
    /// <param name="corpus">The text the cluster's job trains on.</param>
    /// <param name="workerCounts">The worker counts to run; 1 is always run, the baseline of the others.</param>
    /// <param name="rounds">Rounds of the side-by-side comparison (one process, then one worker through the cluster); the best of each is reported.</param>
    public static async Task<int> RunAsync(int threads, int steps, int warmUpSteps, string corpus, IReadOnlyCollection<int> workerCounts, int rounds)
    {
        TorchRuntime.Configure(threads);
        await using var cluster = await TrainingCluster.StartAsync(threads);
        var dataset = await cluster.IngestAsync(Dataset, corpus);
        var config = new GptConfig { Layers = Shape.Layers, Heads = Shape.Heads, Width = Shape.Width, ContextLength = Shape.ContextLength, VocabSize = dataset.VocabSize };
        Console.WriteLine($"{Environment.ProcessorCount} cores ({CpuModel()}); libtorch {TorchRuntime.LibTorchVersion}");
        Console.WriteLine($"job: {config.Layers} layers, {config.Heads} heads, width {config.Width}, context {config.ContextLength}, vocab {config.VocabSize}; {Rows}x{Window} tokens per worker per step, fp32 compute, fp16 wire; {steps} measured steps after {warmUpSteps}");
        Console.WriteLine();

        // The job as one worker runs it, to feed the in-process run the same windows the same way.
        var job = Request(1, steps + warmUpSteps);
        Task<List<TokenBatch>> Local(int step) => LocalBatchAsync(config, step);
        Task<List<TokenBatch>> FromDataService(int step) => TrainingBatches.ForStepAsync(cluster.Data.Client, job, slot: 0, step, CancellationToken.None);

        // Side by side: every round runs the three paths back to back (no worker process alive
        // during the in-process runs), so a change in the machine's load hits all three; the best
        // round of each is compared.
        var local = new List<InProcessSteps>();
        var dataFed = new List<InProcessSteps>();
        var oneWorker = new List<(SteadyState State, WorkerStepPhases Phases, TimeSpan Update)>();
        for (var round = 0; round < rounds; round++)
        {
            await cluster.StopWorkersAsync();
            local.Add(await InProcessAsync(config, steps, warmUpSteps, Local));
            dataFed.Add(await InProcessAsync(config, steps, warmUpSteps, FromDataService));
            await cluster.StartCaseAsync(1, threads);
            var state = await cluster.TrainAsync(Request(1, steps + warmUpSteps), warmUpSteps, JobTimeout);
            oneWorker.Add((state, cluster.WorkerPhases(warmUpSteps), cluster.CoordinatorUpdate(warmUpSteps)));
        }

        var runs = new List<(int Workers, int Threads, SteadyState State)>();
        foreach (var (workers, workerThreads) in new[] { (2, Math.Max(1, threads / 2)), (2, threads), (4, Math.Max(1, threads / 4)), (4, threads) }.Distinct().Where(run => workerCounts.Contains(run.Item1)))
        {
            await cluster.StartCaseAsync(workers, workerThreads);
            runs.Add((workers, workerThreads, await cluster.TrainAsync(Request(workers, steps + warmUpSteps), warmUpSteps, JobTimeout)));
        }

        await cluster.StopWorkersAsync();
        var best = local.MinBy(run => run.Step)!;
        var inProcess = best.Step;
        var fed = dataFed.Min(run => run.Step);
        var (one, phases, update) = oneWorker.MinBy(run => run.State.StepTime);
        static string Each(IEnumerable<TimeSpan> times) => string.Join(" / ", times.Select(time => $"{time.TotalMilliseconds:F0}"));
        Console.WriteLine($"Distributed path overhead: one job, one worker, through the cluster vs the same steps in one process ({rounds} rounds side by side, best of each)");
        Console.WriteLine();
        Console.WriteLine("| path | libtorch threads | step time, best (each round, ms) | steps/s | tokens/s | vs one process |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine($"| one process: GptTrainer, batches made in process | {threads} | {inProcess.TotalMilliseconds:F0} ms ({Each(local.Select(run => run.Step))}) | {1 / inProcess.TotalSeconds:F2} | {Rows * Window / inProcess.TotalSeconds:F0} | 1.00x |");
        Console.WriteLine($"| one process: GptTrainer, each step's batch from the data service (as a worker reads it) | {threads} | {fed.TotalMilliseconds:F0} ms ({Each(dataFed.Select(run => run.Step))}) | {1 / fed.TotalSeconds:F2} | {Rows * Window / fed.TotalSeconds:F0} | {fed / inProcess:F2}x |");
        Console.WriteLine($"| cluster: coordinator + 1 worker process, ModelService.Train | {threads} each | {one.StepTime.TotalMilliseconds:F0} ms ({Each(oneWorker.Select(run => run.State.StepTime))}) | {one.StepsPerSecond:F2} | {Rows * Window * one.StepsPerSecond:F0} | {one.StepTime / inProcess:F2}x |");
        Console.WriteLine();
        Console.WriteLine($"distributed overhead: {one.StepTime / inProcess:F2}x (target at most 1.15x)");
        Console.WriteLine();
        Console.WriteLine("Where the one worker's step goes (its best round: mean of its steps after the warm-up, from its per-step log line)");
        Console.WriteLine();
        Console.WriteLine("| pull parameters | read batches | compute gradient | push until applied (of which the coordinator's update) | sum | cluster step time |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine($"| {phases.Pull.TotalMilliseconds:F1} ms | {phases.Data.TotalMilliseconds:F1} ms | {phases.Compute.TotalMilliseconds:F1} ms | {phases.Push.TotalMilliseconds:F1} ms ({update.TotalMilliseconds:F1} ms) | {phases.Total.TotalMilliseconds:F1} ms | {one.StepTime.TotalMilliseconds:F0} ms |");
        Console.WriteLine();
        Console.WriteLine($"The same two halves in one process (its best round, same steps): gradient {best.Gradient.TotalMilliseconds:F1} ms, update {best.Update.TotalMilliseconds:F1} ms;");
        Console.WriteLine($"the worker's gradient takes {phases.Compute / best.Gradient:F2}x and the coordinator's update {update / best.Update:F2}x of theirs.");
        Console.WriteLine();
        Console.WriteLine($"CPU time per step by process, same round (user + system from /proc, 10 ms ticks; {Environment.ProcessorCount} cores give {Environment.ProcessorCount * one.StepTime.TotalMilliseconds:F0} ms per step)");
        Console.WriteLine();
        Console.WriteLine("| process | CPU per step | share of the cores |");
        Console.WriteLine("|---|---|---|");
        foreach (var (process, cpu) in one.Cpu)
        {
            var perStep = cpu / one.Steps;
            Console.WriteLine($"| {process} | {perStep.TotalMilliseconds:F1} ms | {perStep / (Environment.ProcessorCount * one.StepTime):P0} |");
        }

        Console.WriteLine();
        Console.WriteLine("Workers: the same job with k workers (global batch k x 8 x 256 tokens)");
        Console.WriteLine();
        Console.WriteLine("| workers | libtorch threads per worker | step time | steps/s | tokens/s | tokens/s vs 1 worker |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (workers, workerThreads, state) in runs.Prepend((1, threads, one)))
        {
            var tokensPerSecond = workers * Rows * Window * state.StepsPerSecond;
            Console.WriteLine($"| {workers} | {workerThreads} | {state.StepTime.TotalMilliseconds:F0} ms | {state.StepsPerSecond:F2} | {tokensPerSecond:F0} | {tokensPerSecond / (Rows * Window * one.StepsPerSecond):F2}x |");
        }

        return 0;
    }

    /// <summary>What the cluster is asked for: checkpoint and evaluation only at the end, outside the measured steps.</summary>
    private static TrainRequest Request(int workers, int steps) => new()
    {
        Dataset = Dataset,
        Workers = workers,
        Steps = steps,
        BatchSize = Rows,
        AccumulationSteps = 1,
        Sampling = WindowSampling.Random,
        Window = Window,
        LearningRate = 3e-3,
        CheckpointEvery = steps,
        EvalEvery = steps,
        EvalBatches = 1,
        Shape = Shape,
        Seed = 1,
        Precision = TrainPrecision.Fp32,
        WireFormat = Contracts.Training.V1.WireFormat.Fp16,
    };

    /// <summary>One process's mean step after the warm-up, and its two halves: the gradient (forward and backward) and the optimizer's update.</summary>
    private sealed record InProcessSteps(TimeSpan Step, TimeSpan Gradient, TimeSpan Update);

    /// <summary>
    /// The same steps in this process: the coordinator's optimizer settings, <paramref name="batches"/> for each step.
    /// <see cref="GptTrainer.TrainStep"/>'s two halves are called (and timed) one after the other, as it does.
    /// </summary>

    private static async Task<InProcessSteps> InProcessAsync(GptConfig config, int steps, int warmUpSteps, Func<int, Task<List<TokenBatch>>> batches)
    {
        var total = steps + warmUpSteps;
        var hyperparameters = new TrainingHyperparameters { LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = Math.Max(1, Math.Min(100, total / 10)), TotalSteps = total };
        using var model = GptModel.CreateSeeded(config, 1);
        using var trainer = new GptTrainer(model, hyperparameters);
        var watch = new Stopwatch();
        var gradient = TimeSpan.Zero;
        var update = TimeSpan.Zero;
        for (var step = 0; step < total; step++)
        {
            if (step == warmUpSteps)
            {
                watch.Start();
                gradient = update = TimeSpan.Zero;
            }

            var microBatches = await batches(step);
            var computing = Stopwatch.GetTimestamp();
            var loss = trainer.ComputeGradients(microBatches);
            var updating = Stopwatch.GetTimestamp();
            trainer.ApplyGradients(loss, microBatches.Sum(batch => batch.TokenCount));
            gradient += Stopwatch.GetElapsedTime(computing, updating);
            update += Stopwatch.GetElapsedTime(updating);
            microBatches.ForEach(batch => batch.Dispose());
        }

        return new InProcessSteps(watch.Elapsed / steps, gradient / steps, update / steps);
    }

    /// <summary>Random windows of the job's shape, made here: the one-process run with no data path at all.</summary>
    private static Task<List<TokenBatch>> LocalBatchAsync(GptConfig config, int step)
    {
        using var generator = new Generator().manual_seed(step);
        return Task.FromResult<List<TokenBatch>>([TokenBatch.FromWindows(randint(0, config.VocabSize, [Rows, Window + 1], generator: generator))]);
    }

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
}
