using Microsoft.Extensions.Time.Testing;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.ServiceDefaults.Errors;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Tests;

/// <summary>
/// The parameter server's elastic membership on a fake clock: a clean leave hands its shards over
/// at once (the clock never moves, so no straggler timeout can have passed), a lapsed lease ends
/// a membership, a full job refuses joiners, and a worker joining mid-step starts at the next.
/// </summary>
public sealed class ElasticMembershipTests : IDisposable
{
    private static readonly GptConfig Config = new() { Layers = 1, Heads = 2, Width = 16, ContextLength = 16, VocabSize = 32 };
    private static readonly TrainingHyperparameters Hyperparameters = new() { LearningRate = 1e-3, MinLearningRate = 1e-4, WarmupSteps = 1, TotalSteps = 10 };
    private readonly FakeTimeProvider _time = new();
    private readonly ParameterServerJob _job;

    public ElasticMembershipTests()
    {
        var settings = new ParameterServerSettings(WireFormat.Fp32, MinimumWorkers: 2, StragglerTimeout: TimeSpan.FromSeconds(30), Shards: 4, MaximumWorkers: 3);
        _job = new ParameterServerJob("elastic", GptModel.CreateSeeded(Config, 1), Hyperparameters, settings, time: _time);
    }

    public void Dispose() => _job.Dispose();

    [Fact]
    public async Task A_worker_that_leaves_mid_step_has_its_shards_computed_by_the_others_without_any_timeout()
    {
        var changes = new List<MembershipChange>();
        _job.MembershipChanged += changes.Add;
        _job.Join("a");
        _job.Join("b");
        var (_, _, ofA) = await _job.PullAsync("a", CancellationToken.None);
        var (_, _, ofB) = await _job.PullAsync("b", CancellationToken.None);
        var waiting = _job.SubmitAsync("a", 0, ofA, Gradient(), 1.0, 0, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        _job.Leave("b");
        var handedOver = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        var applied = await _job.SubmitAsync("a", 0, handedOver.MoreShards, Gradient(), 3.0, 0, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([0, 2], ofA);
        Assert.Equal([1, 3], ofB);
        Assert.Null(handedOver.Applied);
        Assert.Equal([1, 3], handedOver.MoreShards);
        Assert.Equal(1, applied.Applied!.Version);
        Assert.Equal(1, applied.Applied.Workers);
        Assert.Empty(applied.Applied.Dropped);
        // The step's loss is the mean over all four shards: two at 1.0, two at 3.0.
        Assert.Equal(2.0, applied.Applied.Loss, 6);
        Assert.Equal(["a"], _job.Members);
        Assert.Equal(["b left at step 0"], changes.Skip(2).Select(change => change.Description));
    }

    [Fact]
    public async Task A_worker_joining_mid_step_takes_part_from_the_next_step_and_the_job_takes_no_more_than_its_maximum()
    {
        _job.Join("a");
        _job.Join("b");
        var (_, _, ofA) = await _job.PullAsync("a", CancellationToken.None);
        var (_, _, ofB) = await _job.PullAsync("b", CancellationToken.None);
        _job.Join("c");
        var pullOfC = _job.PullAsync("c", CancellationToken.None);
        var full = Assert.Throws<ServiceException>(() => _job.Join("d"));
        Assert.False(pullOfC.IsCompleted);

        var first = _job.SubmitAsync("a", 0, ofA, Gradient(), 1, 0, CancellationToken.None);
        await _job.SubmitAsync("b", 0, ofB, Gradient(), 1, 0, CancellationToken.None);
        await first;
        var (version, _, ofC) = await pullOfC.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ServiceError.ResourceExhausted, full.Error);
        Assert.Equal(1, version);
        Assert.Equal([2], ofC); // a: 0 and 3, b: 1, c: 2
        var (_, _, nextOfA) = await _job.PullAsync("a", CancellationToken.None);
        Assert.Equal([0, 3], nextOfA);
    }

    [Fact]
    public async Task A_worker_whose_lease_lapses_is_removed_and_must_join_again_while_heartbeats_keep_another()
    {
        _job.Join("a");
        _job.Join("b");
        for (var elapsed = TimeSpan.Zero; elapsed < _job.Settings.Lease * 2; elapsed += _job.Settings.Lease / 4)
        {
            _job.Heartbeat("a");
            _time.Advance(_job.Settings.Lease / 4);
        }

        var lapsed = Assert.Throws<ServiceException>(() => _job.Heartbeat("b"));
        await Assert.ThrowsAsync<ServiceException>(() => _job.PullAsync("b", CancellationToken.None));

        Assert.Equal(["a"], _job.Members);
        Assert.Equal(ServiceError.FailedPrecondition, lapsed.Error);
        Assert.Contains("join again", lapsed.Message);
    }

    [Fact]
    public async Task A_straggler_is_dropped_once_the_timeout_passes_on_the_clock_and_its_shards_go_to_the_others()
    {
        _job.Join("a");
        _job.Join("b");
        var (_, _, ofA) = await _job.PullAsync("a", CancellationToken.None);
        await _job.PullAsync("b", CancellationToken.None);
        var waiting = _job.SubmitAsync("a", 0, ofA, Gradient(), 1, 0, CancellationToken.None);

        _time.Advance(_job.Settings.StragglerTimeout - TimeSpan.FromSeconds(1));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        var handedOver = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        var applied = await _job.SubmitAsync("a", 0, handedOver.MoreShards, Gradient(), 1, 0, CancellationToken.None);

        Assert.Equal([1, 3], handedOver.MoreShards);
        Assert.Equal(["b"], applied.Applied!.Dropped);
    }

    [Fact]
    public async Task After_the_last_step_nothing_more_is_computed_and_a_worker_joining_learns_the_job_is_done()
    {
        using var job = new ParameterServerJob("short", GptModel.CreateSeeded(Config, 1), Hyperparameters with { TotalSteps = 2, WarmupSteps = 1 },
            new ParameterServerSettings(WireFormat.Fp32, MinimumWorkers: 1, StragglerTimeout: TimeSpan.FromSeconds(30), Shards: 2), time: _time);
        job.Join("a");
        for (var step = 0; step < 2; step++)
        {
            var (version, _, shards) = await job.PullAsync("a", CancellationToken.None);
            await job.SubmitAsync("a", version, shards, new float[job.ParameterCount], 1, 0, CancellationToken.None);
        }

        var pull = await Assert.ThrowsAsync<ServiceException>(() => job.PullAsync("a", CancellationToken.None));
        var push = await Assert.ThrowsAsync<ServiceException>(() => job.SubmitAsync("a", 2, [0], new float[job.ParameterCount], 1, 0, CancellationToken.None));

        Assert.Equal(2, job.Version);
        Assert.Equal((ServiceError.FailedPrecondition, ServiceError.FailedPrecondition), (pull.Error, push.Error));
        Assert.Contains("all its 2 steps", pull.Message);
        Assert.Equal(2, job.Join("late").Step);
    }

    [Theory]
    [InlineData(float.NaN, 1.0)]
    [InlineData(float.PositiveInfinity, 1.0)]
    [InlineData(0f, double.NaN)]
    public async Task A_gradient_or_loss_that_is_not_finite_is_refused_and_reported_as_divergence(float element, double loss)
    {
        var diverged = new List<string>();
        _job.Diverged += diverged.Add;
        _job.Join("a");
        _job.Join("b");
        var (_, _, ofA) = await _job.PullAsync("a", CancellationToken.None);
        var gradient = Gradient();
        gradient[gradient.Length / 2] = element;

        var refused = await Assert.ThrowsAsync<ServiceException>(() => _job.SubmitAsync("a", 0, ofA, gradient, loss, 0, CancellationToken.None));

        Assert.Equal(ServiceError.FailedPrecondition, refused.Error);
        Assert.Contains("diverged at step 0", Assert.Single(diverged));
        Assert.Equal(0, _job.Version);
        Assert.True(float.IsFinite(_job.Snapshot().Parameters.Sum()));
    }

    private float[] Gradient() => new float[_job.ParameterCount];
}
