using Microsoft.Extensions.Logging.Abstractions;
using MsSwift.Testing;
using MsSwift.Training.Jobs;
using StackExchange.Redis;

namespace MsSwift.Training.Tests;

/// <summary><see cref="JobHistory"/> against a real redis-server: what it keeps, and in what order.</summary>
public sealed class JobHistoryTests : IAsyncLifetime
{
    private RedisServer _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private JobHistory _history = null!;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        _redis = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        _history = new JobHistory(_redis, NullLogger<JobHistory>.Instance);
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_step_run_again_after_a_takeover_replaces_its_point_and_points_come_in_step_order()
    {
        // A first leader records steps 1-12 and an evaluation at 10, then dies; its successor
        // resumes from the checkpoint at step 8 and runs 9-12 again.
        for (var step = 1; step <= 12; step++)
        {
            await _history.RecordStepAsync("job-a", step, steps: 12, loss: 10 - step * 0.1);
        }

        await _history.RecordEvaluationAsync("job-a", 10, 9.5);
        for (var step = 9; step <= 12; step++)
        {
            await _history.RecordStepAsync("job-a", step, steps: 12, loss: 5 - step * 0.1);
        }

        await _history.RecordEvaluationAsync("job-a", 10, 4.5);
        await _history.RecordEvaluationAsync("job-a", 12, double.NaN);

        var history = await _history.ReadAsync("job-a");
        var other = await _history.ReadAsync("job-b");

        // In numeric step order (10 after 9, not after 1), one point per step, the re-run's values.
        Assert.Equal(Enumerable.Range(1, 12).Select(step => (long)step), history.Loss.Select(point => point.Step));
        Assert.Equal(10 - 8 * 0.1, history.Loss[7].Loss);
        Assert.Equal(5 - 9 * 0.1, history.Loss[8].Loss);
        Assert.Equal(5 - 12 * 0.1, history.Loss[^1].Loss);
        Assert.Equal([new LossPoint(10, 4.5), new LossPoint(12, double.NaN)], history.EvalLoss);
        Assert.Empty(other.Loss);
        Assert.Empty(other.EvalLoss);
    }

    [Theory]
    [InlineData(1_000_000, 2000)]
    [InlineData(4001, 2001)] // every 2nd step, and the last
    [InlineData(1999, 1999)]
    [InlineData(1, 1)]
    public void The_train_loss_is_kept_at_about_2000_steps_however_long_the_job_and_always_at_the_last(int steps, int kept)
    {
        var keptSteps = Enumerable.Range(1, steps).Where(step => JobHistory.Keeps(step, steps)).ToList();

        Assert.Equal(kept, keptSteps.Count);
        Assert.Equal(steps, keptSteps[^1]);
    }
}
