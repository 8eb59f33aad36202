using Grpc.Core;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.ParameterServer;
using MsSwift.Training.Workers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MsSwift.Training.Tests;

/// <summary>
/// Data-parallel training through the real parameter server over gRPC: two workers, each with
/// half of every global batch, against one process training on the whole batch.
/// </summary>
public sealed class DataParallelTrainingTests(ITestOutputHelper output)
{
    private const int Steps = 20;
    private const int GlobalBatch = 8;
    private const int Window = 24;
    private static readonly GptConfig Config = new() { Layers = 2, Heads = 4, Width = 64, ContextLength = 64, VocabSize = 256 };
    private static readonly TrainingHyperparameters Hyperparameters = new() { LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = 4, TotalSteps = Steps };

    /// <param name="format">The wire format.</param>
    /// <param name="accumulation">Micro-batches each worker splits its half of the global batch into.</param>
    /// <param name="precision">The workers' precision; the single-process reference uses the same.</param>
    /// <param name="bound">The largest |loss difference| allowed at any step.</param>
    [Theory]
    [InlineData(WireFormat.Fp32, 1, TrainingPrecision.Fp32, 1e-5)]
    [InlineData(WireFormat.Fp16, 1, TrainingPrecision.Fp32, 2e-3)]
    [InlineData(WireFormat.Fp32, 2, TrainingPrecision.Fp32, 1e-5)]
    [InlineData(WireFormat.Fp32, 1, TrainingPrecision.Bf16Mixed, 5e-3)]
    public async Task Two_workers_follow_the_single_process_loss_trajectory(WireFormat format, int accumulation, TrainingPrecision precision, double bound)
    {
        var reference = SingleProcessLosses(precision);

        await using var host = await ParameterServerHost.StartAsync();
        var tokensPerGradient = GlobalBatch / 2 * Window;
        var job = new ParameterServerJob("job-1", Model(seed: 1), Hyperparameters, new ParameterServerSettings(format, MinimumWorkers: 2, TimeSpan.FromSeconds(60), tokensPerGradient));
        host.Jobs.Add(job); // the host disposes its jobs
        var workerHyperparameters = Hyperparameters with { AccumulationSteps = accumulation, Precision = precision };
        using var first = new DataParallelWorker(host.Client, "job-1", "w1", Model(seed: 100), workerHyperparameters);
        using var second = new DataParallelWorker(host.Client, "job-1", "w2", Model(seed: 200), workerHyperparameters);
        await first.JoinAsync(CancellationToken.None);
        await second.JoinAsync(CancellationToken.None);

        // Each worker computes the shards the server assigns it: a half of the global batch each.
        ShardBatches halves = (step, shards, _) => Task.FromResult(ShardsOf((int)step, shards, accumulation));
        var distributed = new List<double>();
        for (var step = 0; step < Steps; step++)
        {
            var outcomes = await Task.WhenAll(
                first.StepAsync(halves, format, CancellationToken.None),
                second.StepAsync(halves, format, CancellationToken.None));
            Assert.All(outcomes, outcome => Assert.Equal(2, outcome.Workers));
            distributed.Add(outcomes[0].Loss);
        }

        var worst = reference.Zip(distributed, (single, parallel) => Math.Abs(single - parallel)).Max();
        output.WriteLine($"{format}, {accumulation} micro-batches, {precision}: loss {reference[0]:F4} -> {reference[^1]:F4}; worst |single - distributed| over {Steps} steps: {worst:E2} (bound {bound:E0})");
        Assert.True(reference[^1] < reference[0] - 0.1, "the reference run should learn something");
        Assert.True(worst <= bound, $"worst difference {worst} exceeds {bound}");
        if (precision != TrainingPrecision.Fp32)
        {
            // The workers really computed in bf16: their trajectory is not the fp32 one.
            var fromFp32 = SingleProcessLosses(TrainingPrecision.Fp32).Zip(distributed, (single, parallel) => Math.Abs(single - parallel)).Max();
            Assert.True(fromFp32 > 1e-5, $"bf16 workers matched fp32 training to {fromFp32}");
        }

        Assert.Equal(Steps, job.Version);
        // Per step each worker pulls N parameters and pushes N gradients: 2·k·N bytes.
        var perStep = 2L * 2 * job.ParameterCount * WireCodec.BytesPerElement(format);
        Assert.Equal(perStep * Steps, host.Metrics.BytesSent + host.Metrics.BytesReceived);
    }

    [Fact]
    public async Task A_straggler_is_dropped_after_the_timeout_its_shard_computed_by_another_and_its_late_gradient_refused()
    {
        await using var host = await ParameterServerHost.StartAsync();
        var tokensPerShard = GlobalBatch / 2 * Window;
        var job = new ParameterServerJob("job-2", Model(seed: 1), Hyperparameters, new ParameterServerSettings(WireFormat.Fp32, MinimumWorkers: 2, TimeSpan.FromMilliseconds(500), tokensPerShard));
        host.Jobs.Add(job); // the host disposes its jobs
        using var prompt = new DataParallelWorker(host.Client, "job-2", "prompt", Model(seed: 3), Hyperparameters);
        using var slow = new DataParallelWorker(host.Client, "job-2", "slow", Model(seed: 4), Hyperparameters);
        await prompt.JoinAsync(CancellationToken.None);
        await slow.JoinAsync(CancellationToken.None);
        var reads = new List<(long Step, int[] Shards)>(); // workers also read the next step ahead (BatchPrefetch)
        ShardBatches halves = (step, shards, _) =>
        {
            lock (reads)
            {
                reads.Add((step, shards.ToArray()));
            }

            return Task.FromResult(ShardsOf((int)step, shards, 1));
        };

        // "slow" never computes its shard of step 0: after the timeout "prompt" is given it too.
        var outcome = await prompt.StepAsync(halves, WireFormat.Fp32, CancellationToken.None);
        var late = await Assert.ThrowsAsync<RpcException>(() => slow.StepAsync(halves, WireFormat.Fp32, CancellationToken.None));
        var alone = await prompt.StepAsync(halves, WireFormat.Fp32, CancellationToken.None);

        Assert.Equal(["slow"], outcome.Dropped);
        Assert.Equal(1, outcome.Workers);
        // The global batch stayed whole: the survivor computed its own shard, then the straggler's; the next step both.
        Assert.Equal([0, 1], reads.Where(read => read.Step == 0).SelectMany(read => read.Shards));
        Assert.Equal([0, 1], reads.Last(read => read.Step == 1).Shards);
        // While step 0 was applied, the survivor read step 1's batches for the shard it held.
        Assert.Contains(reads, read => read.Step == 1 && read.Shards is [0]);
        Assert.Equal(StatusCode.FailedPrecondition, late.StatusCode);
        Assert.Contains("join again", late.Status.Detail);
        // With the straggler gone, the next step does not wait for it.
        Assert.Equal(2, alone.Version);
        Assert.Empty(alone.Dropped);
    }

    [Fact]
    public async Task Gradients_in_another_wire_format_or_for_an_unknown_job_are_refused()
    {
        await using var host = await ParameterServerHost.StartAsync();
        var job = new ParameterServerJob("job-3", Model(seed: 1), Hyperparameters, new ParameterServerSettings(WireFormat.Fp16, MinimumWorkers: 1, TimeSpan.FromSeconds(5)));
        host.Jobs.Add(job); // the host disposes its jobs
        using var worker = new DataParallelWorker(host.Client, "job-3", "w", Model(seed: 2), Hyperparameters);
        using var stranger = new DataParallelWorker(host.Client, "job-404", "w", Model(seed: 2), Hyperparameters);
        await worker.JoinAsync(CancellationToken.None);
        var wrongFormat = await Assert.ThrowsAsync<RpcException>(() => worker.StepAsync(WholeBatch, WireFormat.Fp32, CancellationToken.None));
        var unknownJob = await Assert.ThrowsAsync<RpcException>(() => stranger.JoinAsync(CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, wrongFormat.StatusCode);
        Assert.Equal(StatusCode.NotFound, unknownJob.StatusCode);
        Assert.Equal(0, job.Version);
    }

    [Fact]
    public async Task A_gradient_over_the_wrong_number_of_tokens_is_refused()
    {
        await using var host = await ParameterServerHost.StartAsync();
        // The job expects two micro-batches of half a global batch from each worker.
        var job = new ParameterServerJob("job-4", Model(seed: 1), Hyperparameters, new ParameterServerSettings(WireFormat.Fp32, MinimumWorkers: 1, TimeSpan.FromSeconds(5), GlobalBatch * Window));
        host.Jobs.Add(job); // the host disposes its jobs
        using var worker = new DataParallelWorker(host.Client, "job-4", "w", Model(seed: 2), Hyperparameters);
        await worker.JoinAsync(CancellationToken.None);
        ShardBatches oneHalfOnly = (step, _, _) => Task.FromResult(ShardsOf((int)step, [0], 1));
        ShardBatches bothHalves = (step, _, _) => Task.FromResult(ShardsOf((int)step, [0, 1], 1));

        var oneHalf = await Assert.ThrowsAsync<RpcException>(() => worker.StepAsync(oneHalfOnly, WireFormat.Fp32, CancellationToken.None));
        var both = await worker.StepAsync(bothHalves, WireFormat.Fp32, CancellationToken.None);

        Assert.Equal(StatusCode.InvalidArgument, oneHalf.StatusCode);
        Assert.Contains("accumulation", oneHalf.Status.Detail);
        Assert.Equal(1, both.Version);
    }

    [Fact]
    public async Task A_gradient_header_announcing_more_elements_than_the_model_has_is_refused_before_anything_is_allocated()
    {
        await using var host = await ParameterServerHost.StartAsync();
        var job = new ParameterServerJob("job-5", Model(seed: 1), Hyperparameters, new ParameterServerSettings(WireFormat.Fp32, MinimumWorkers: 1, TimeSpan.FromSeconds(5)));
        host.Jobs.Add(job); // the host disposes its jobs
        using var worker = new DataParallelWorker(host.Client, "job-5", "w", Model(seed: 2), Hyperparameters);
        await worker.JoinAsync(CancellationToken.None);
        const long hostile = 1L << 28; // 1 GiB of fp32 if it were allocated

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var oversized = await Assert.ThrowsAsync<RpcException>(() => PushHeaderAsync(host, "job-5", hostile));
        var unknownJob = await Assert.ThrowsAsync<RpcException>(() => PushHeaderAsync(host, "job-404", hostile));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        var valid = await worker.StepAsync(WholeBatch, WireFormat.Fp32, CancellationToken.None);

        Assert.Equal(StatusCode.InvalidArgument, oversized.StatusCode);
        Assert.Equal($"the gradient for job 'job-5': the header announces {hostile} elements; {job.ParameterCount} are expected", oversized.Status.Detail);
        Assert.Equal(StatusCode.NotFound, unknownJob.StatusCode);
        Assert.True(allocated < 64 << 20, $"refusing two headers of {hostile} elements allocated {allocated} bytes");
        Assert.Equal(1, valid.Version);
    }

    /// <summary>A gradient stream that is only a header announcing <paramref name="elements"/> fp32 elements, and one of them.</summary>
    private static async Task<PushResponse> PushHeaderAsync(ParameterServerHost host, string jobId, long elements)
    {
        using var push = host.Client.PushGradients();
        await push.RequestStream.WriteAsync(new VectorChunk
        {
            Header = new VectorHeader { JobId = jobId, WorkerId = "w", Format = WireFormat.Fp32, ElementCount = elements },
            Data = Google.Protobuf.ByteString.CopyFrom(new byte[4]),
        });
        await push.RequestStream.CompleteAsync();
        return await push.ResponseAsync;
    }

    private static List<double> SingleProcessLosses(TrainingPrecision precision)
    {
        using var model = Model(seed: 1);
        using var trainer = new GptTrainer(model, Hyperparameters with { Precision = precision });
        var losses = new List<double>();
        for (var step = 0; step < Steps; step++)
        {
            using var batch = GlobalBatchFor(step);
            losses.Add(trainer.TrainStep([batch]).Loss);
        }

        return losses;
    }

    // Seeded under the model's initialisation lock: tests in other classes build models at the same time.
    private static GptModel Model(long seed) => GptModel.CreateSeeded(Config, seed);

    /// <summary>Step t's global batch: a short repeating pattern per row, so there is something to learn.</summary>
    private static TokenBatch GlobalBatchFor(int step)
    {
        var generator = new Random(step);
        var windows = new long[GlobalBatch * (Window + 1)];
        for (var row = 0; row < GlobalBatch; row++)
        {
            var pattern = Enumerable.Range(0, 3).Select(_ => (long)generator.Next(Config.VocabSize)).ToArray();
            for (var i = 0; i <= Window; i++)
            {
                windows[row * (Window + 1) + i] = pattern[i % pattern.Length];
            }
        }

        return TokenBatch.FromWindows(tensor(windows, [GlobalBatch, Window + 1]));
    }

    /// <summary>The whole global batch of the step, as one micro-batch (a job of one shard).</summary>
    private static Task<List<TokenBatch>> WholeBatch(long step, IReadOnlyList<int> shards, CancellationToken cancellationToken) =>
        Task.FromResult(new List<TokenBatch> { GlobalBatchFor((int)step) });

    /// <summary>The halves <paramref name="shards"/> of step <paramref name="step"/>'s global batch, each cut into <paramref name="count"/> micro-batches.</summary>
    private static List<TokenBatch> ShardsOf(int step, IReadOnlyList<int> shards, int count)
    {
        using var batch = GlobalBatchFor(step);
        return shards.SelectMany(shard => Slices(batch, shard, count)).ToList();
    }

    /// <summary>Half <paramref name="half"/> of the global batch, cut into <paramref name="count"/> equal micro-batches.</summary>
    private static List<TokenBatch> Slices(TokenBatch batch, int half, int count)
    {
        var rows = GlobalBatch / 2 / count;
        return Enumerable.Range(0, count)
            .Select(slice => new TokenBatch(batch.Inputs.narrow(0, half * GlobalBatch / 2 + slice * rows, rows), batch.Targets.narrow(0, half * GlobalBatch / 2 + slice * rows, rows)))
            .ToList();
    }
}
