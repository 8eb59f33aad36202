using Microsoft.Extensions.Logging.Abstractions;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Testing;
using MsSwift.Training.Jobs;
using MsSwift.Training.ParameterServer;
using MsSwift.Training.Workers;
using StackExchange.Redis;
using static TorchSharp.torch;

namespace MsSwift.Training.Tests;

/// <summary>One parameter-server leader per job through a real Redis lock, fenced commits, and resume from checkpoints.</summary>
public sealed class ParameterServerLeadershipTests : IAsyncLifetime
{
    private static readonly GptConfig Config = new() { Layers = 2, Heads = 4, Width = 64, ContextLength = 64, VocabSize = 256 };
    private static readonly TrainingHyperparameters Hyperparameters = new() { LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = 2, TotalSteps = 6 };

    private readonly string _checkpoints = Directory.CreateTempSubdirectory("msswift-training-").FullName;
    // A background thread for the test process's life, as in the service: the leaders' updates run on it.
    private static readonly TorchThread Torch = new("test-parameter-server");
    private RedisServer _redis = null!;
    private ConnectionMultiplexer _connection = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
        Directory.Delete(_checkpoints, recursive: true);
    }

    [Fact]
    public async Task A_writer_whose_lease_passed_to_another_is_refused()
    {
        var locks = new RedisLock(_connection, TimeProvider.System);
        var state = new JobStore(_connection, TimeProvider.System);
        var first = await locks.TryAcquireAsync("training:fenced:parameter-server", TimeSpan.FromMilliseconds(200));
        await Task.Delay(400);
        var second = await locks.TryAcquireAsync("training:fenced:parameter-server", TimeSpan.FromSeconds(10));

        var successor = await state.CommitAsync("fenced", second!.FencingToken, 5, "jobs/fenced/v5");
        var stale = await state.CommitAsync("fenced", first!.FencingToken, 6, "jobs/fenced/v6-stale");
        var backwards = await state.CommitAsync("fenced", second.FencingToken, 4, "jobs/fenced/v4");

        Assert.True(second.FencingToken > first.FencingToken);
        Assert.True(successor);
        Assert.False(stale);
        Assert.False(backwards);
        Assert.Equal(new CommittedStep(second.FencingToken, 5, "jobs/fenced/v5"), await state.ReadCommittedAsync("fenced"));
    }

    [Fact]
    public async Task Only_one_of_two_parameter_servers_leads_and_its_successor_resumes_exactly_from_the_checkpoint()
    {
        var reference = await UninterruptedLossesAsync();
        var spec = Spec("resume");
        var store = new LocalDirectoryCheckpointStore(_checkpoints);
        await using var hostA = await ParameterServerHost.StartAsync();
        await using var hostB = await ParameterServerHost.StartAsync();
        await using var leaderA = Leader(spec, store, hostA.Jobs);
        await using var leaderB = Leader(spec, store, hostB.Jobs);

        Assert.True(await leaderA.TryLeadAsync(CancellationToken.None));
        Assert.False(await leaderB.TryLeadAsync(CancellationToken.None));
        var losses = await TrainAsync(hostA, "resume", steps: 4, firstStep: 0);
        var state = new JobStore(_connection, TimeProvider.System);
        await WaitUntilAsync(async () => (await state.ReadCommittedAsync("resume"))?.Version == 4);

        // A's lease vanishes (a long pause, a Redis failover): B takes over, A notices and steps down.
        await _connection.GetDatabase().KeyDeleteAsync(RedisLock.KeyPrefix + "training:resume:parameter-server");
        Assert.True(await leaderB.TryLeadAsync(CancellationToken.None));
        await leaderA.Deposed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(4, leaderB.Job!.Version);
        losses.AddRange(await TrainAsync(hostB, "resume", steps: 2, firstStep: 4));
        await WaitUntilAsync(async () => (await state.ReadCommittedAsync("resume"))?.Version == 6);
        var stale = await state.CommitAsync("resume", leaderA.FencingToken, 7, "jobs/resume/stale");

        Assert.True(leaderB.FencingToken > leaderA.FencingToken);
        Assert.False(stale);
        Assert.Equal(leaderB.FencingToken, (await state.ReadCommittedAsync("resume"))!.FencingToken);
        Assert.Null(hostA.Jobs.Find("resume"));
        // Weights and AdamW state came back exactly: the resumed steps match an uninterrupted run.
        Assert.Equal(reference.Count, losses.Count);
        for (var step = 0; step < reference.Count; step++)
        {
            Assert.True(Math.Abs(reference[step] - losses[step]) < 1e-5, $"step {step + 1}: {losses[step]} vs uninterrupted {reference[step]}");
        }
    }

    private async Task<List<double>> UninterruptedLossesAsync()
    {
        await using var host = await ParameterServerHost.StartAsync();
        await using var leader = Leader(Spec("reference"), new LocalDirectoryCheckpointStore(_checkpoints), host.Jobs);
        Assert.True(await leader.TryLeadAsync(CancellationToken.None));
        return await TrainAsync(host, "reference", steps: 6, firstStep: 0);
    }

    private static async Task<List<double>> TrainAsync(ParameterServerHost host, string jobId, int steps, int firstStep)
    {
        using var worker = new DataParallelWorker(host.Client, jobId, "w1", GptModel.CreateSeeded(Config, 99), Hyperparameters);
        var joined = await worker.JoinAsync(CancellationToken.None);
        Assert.Equal(firstStep, joined.Step);
        var losses = new List<double>();
        for (var step = firstStep; step < firstStep + steps; step++)
        {
            losses.Add((await worker.StepAsync((at, _, _) => Task.FromResult(new List<TokenBatch> { Batch((int)at) }), WireFormat.Fp32, CancellationToken.None)).Loss);
        }

        return losses;
    }

    private ParameterServerLeader Leader(ParameterServerJobSpec spec, ICheckpointStore store, ParameterServerJobs jobs) =>
        new(spec, new RedisLock(_connection, TimeProvider.System), new JobStore(_connection, TimeProvider.System), store, jobs, Torch, TimeProvider.System, NullLogger<ParameterServerLeader>.Instance);

    private static ParameterServerJobSpec Spec(string jobId) =>
        new(jobId, Config, Hyperparameters, new ParameterServerSettings(WireFormat.Fp32, MinimumWorkers: 1, TimeSpan.FromSeconds(30)), CheckpointEverySteps: 2, Seed: 5);

    private static TokenBatch Batch(int step)
    {
        using var generator = new Generator().manual_seed(1000 + step);
        return TokenBatch.FromWindows(randint(0, Config.VocabSize, [4, 17], generator: generator));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition) =>
        Assert.True(await Poll.UntilAsync(condition, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50)), "the condition never became true");
}
