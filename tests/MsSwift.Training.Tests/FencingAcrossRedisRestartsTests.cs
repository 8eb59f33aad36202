using MsSwift.ServiceDefaults.Redis;
using MsSwift.Testing;
using MsSwift.Training.Jobs;
using StackExchange.Redis;

namespace MsSwift.Training.Tests;

/// <summary>A job's fenced commits across a restart of a real, persisted redis-server.</summary>
public sealed class FencingAcrossRedisRestartsTests
{
    private const string Lock = "training:restarted:parameter-server";

    [Theory]
    [InlineData(RedisRestart.KeepingItsData)]
    [InlineData(RedisRestart.LosingTheLastWrites)]
    [InlineData(RedisRestart.Empty)]
    public async Task After_a_redis_restart_the_new_leader_outranks_the_stale_one_and_the_stale_commit_is_refused(RedisRestart restart)
    {
        var server = await RedisServer.StartPersistentAsync();
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString + ",abortConnect=false");
            var locks = new RedisLock(redis, TimeProvider.System);
            var state = new JobStore(redis, TimeProvider.System);
            var earlier = await locks.AcquireAsync(Lock, TimeSpan.FromSeconds(30), wait: TimeSpan.FromSeconds(1));
            Assert.True(await state.CommitAsync("restarted", earlier.FencingToken, 4, "jobs/restarted/v4"));
            await earlier.ReleaseAsync();
            await server.MarkSyncedAsync();
            // A leader takes over just before the crash; its lease then runs out while it is paused.
            var stale = await locks.AcquireAsync(Lock, TimeSpan.FromMilliseconds(500), wait: TimeSpan.FromSeconds(1));

            server = await server.RestartAsync(restart);
            var leader = await locks.AcquireAsync(Lock, TimeSpan.FromSeconds(30), wait: TimeSpan.FromSeconds(20));
            var survived = await state.ReadCommittedAsync("restarted");
            var leaderCommitted = await state.CommitAsync("restarted", leader.FencingToken, 8, "jobs/restarted/v8");
            var staleCommitted = await state.CommitAsync("restarted", stale.FencingToken, 12, "jobs/restarted/v12-stale");

            // What was synced before the crash is what the new leader resumes from.
            Assert.Equal(restart == RedisRestart.Empty ? null : new CommittedStep(earlier.FencingToken, 4, "jobs/restarted/v4"), survived);
            Assert.True(leader.FencingToken > stale.FencingToken, $"after a restart {restart}: the new leader has {leader.FencingToken}, the stale one {stale.FencingToken}");
            Assert.True(leaderCommitted);
            Assert.False(staleCommitted);
            Assert.Equal(new CommittedStep(leader.FencingToken, 8, "jobs/restarted/v8"), await state.ReadCommittedAsync("restarted"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
