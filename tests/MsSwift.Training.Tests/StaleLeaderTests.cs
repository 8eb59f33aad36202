using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Testing;
using MsSwift.Training.Jobs;
using StackExchange.Redis;

namespace MsSwift.Training.Tests;

/// <summary>A deposed leader's status write, event and registration are all refused, on a real Redis.</summary>
public sealed class StaleLeaderTests : IAsyncLifetime
{
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
    }

    [Fact]
    public async Task Once_a_newer_leader_wrote_the_stale_ones_status_event_and_registration_are_refused()
    {
        var store = new JobStore(_connection, TimeProvider.System);
        var request = new TrainRequest { Dataset = "d", Model = "m", Workers = 1, Steps = 1 };
        var (created, createdEvent) = JobRules.Create("job-0000000000aa", request, DateTimeOffset.UtcNow);
        await store.CreateAsync(request, created, createdEvent);
        var locks = new RedisLock(_connection, TimeProvider.System);
        var staleLease = await locks.TryAcquireAsync("training:job-0000000000aa:parameter-server", TimeSpan.FromMilliseconds(100));
        await Task.Delay(300);
        var newLease = await locks.TryAcquireAsync("training:job-0000000000aa:parameter-server", TimeSpan.FromSeconds(30));
        using var outbox = new TrainingEventOutbox(_connection, locks, null!, TimeProvider.System, NullLogger<TrainingEventOutbox>.Instance);
        var stale = new JobProgress(created, staleLease!.FencingToken, "http://stale:1", store, outbox, TimeProvider.System);
        var current = new JobProgress(created, newLease!.FencingToken, "http://current:1", store, outbox, TimeProvider.System);

        var staleLed = await stale.ApplyAsync((status, now) => JobRules.Lead(status, 0, "", now));
        var currentLed = await current.ApplyAsync((status, now) => JobRules.Lead(status, 0, "", now));
        var outboxBefore = await _connection.GetDatabase().ListLengthAsync(JobStore.OutboxKey);
        var staleWrite = await stale.ApplyAsync((status, now) => JobRules.Cancel(status, now));
        var outboxAfter = await _connection.GetDatabase().ListLengthAsync(JobStore.OutboxKey);
        // The registry address answers nothing: had the stale finisher called it, it would throw.
        using var nowhere = GrpcChannel.ForAddress($"http://127.0.0.1:{FreeTcpPort.Next()}");
        var finisher = new JobFinisher(new ModelRegistryAdmin.ModelRegistryAdminClient(nowhere));
        var registered = await finisher.FinishAsync(stale, request, new DatasetInfo { Version = "x" }, "jobs/job-0000000000aa/step-1", null, CancellationToken.None);
        var record = await store.ReadAsync("job-0000000000aa");

        Assert.True(staleLed); // before its successor wrote, the older token was still the newest
        Assert.True(currentLed);
        Assert.False(staleWrite);
        Assert.True(stale.Refused.IsCompleted);
        Assert.Equal(outboxBefore, outboxAfter);
        Assert.False(registered);
        Assert.Equal(TrainState.Running, record!.Status.State);
        Assert.Equal(newLease.FencingToken, record.Fence);
        Assert.Equal("http://current:1", record.Leader);
        // And the stale one cannot commit a checkpoint either.
        Assert.False(await store.CommitAsync("job-0000000000aa", staleLease.FencingToken, 5, "jobs/job-0000000000aa/stale"));
        Assert.True(await store.CommitAsync("job-0000000000aa", newLease.FencingToken, 5, "jobs/job-0000000000aa/current"));
    }
}
