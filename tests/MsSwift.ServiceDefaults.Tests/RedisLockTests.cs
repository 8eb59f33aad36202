using MsSwift.ServiceDefaults.Redis;
using MsSwift.Testing;
using StackExchange.Redis;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary><see cref="RedisLock"/> against a real redis-server.</summary>
public sealed class RedisLockTests : IAsyncLifetime
{
    private RedisServer _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private RedisLock _locks = null!;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        _redis = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        _locks = new RedisLock(_redis, TimeProvider.System);
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_second_taker_cannot_get_the_lock_until_the_first_releases_it()
    {
        var first = await _locks.TryAcquireAsync("job-1", TimeSpan.FromSeconds(30));
        var whileHeld = await _locks.TryAcquireAsync("job-1", TimeSpan.FromSeconds(30));
        var otherResource = await _locks.TryAcquireAsync("job-2", TimeSpan.FromSeconds(30));
        Assert.NotNull(first);
        var released = await first.ReleaseAsync();
        var afterRelease = await _locks.TryAcquireAsync("job-1", TimeSpan.FromSeconds(30));

        Assert.Null(whileHeld);
        Assert.NotNull(otherResource);
        Assert.True(released);
        Assert.NotNull(afterRelease);
        Assert.True(afterRelease.FencingToken > first.FencingToken);
    }

    [Fact]
    public async Task An_expired_lease_passes_to_the_next_owner_and_the_old_owner_cannot_release_it()
    {
        var stale = await _locks.TryAcquireAsync("job-3", TimeSpan.FromMilliseconds(200));
        Assert.NotNull(stale);

        await using var current = await _locks.AcquireAsync("job-3", TimeSpan.FromSeconds(30), wait: TimeSpan.FromSeconds(10));
        var staleReleased = await stale.ReleaseAsync();
        var staleExtended = await stale.ExtendAsync(TimeSpan.FromSeconds(30));
        var stillHeld = await _locks.TryAcquireAsync("job-3", TimeSpan.FromSeconds(30));

        Assert.True(current.FencingToken > stale.FencingToken);
        Assert.False(staleReleased);
        Assert.False(staleExtended);
        Assert.Null(stillHeld);
    }

    [Fact]
    public async Task Extending_a_held_lease_keeps_others_out_past_its_original_expiry()
    {
        await using var lease = await _locks.AcquireAsync("job-4", TimeSpan.FromSeconds(2), wait: TimeSpan.FromSeconds(1));
        Assert.True(await lease.ExtendAsync(TimeSpan.FromSeconds(30)));

        var ttl = await _redis.GetDatabase().KeyTimeToLiveAsync(RedisLock.KeyPrefix + "job-4");

        Assert.NotNull(ttl);
        Assert.True(ttl > TimeSpan.FromSeconds(20), $"TTL after extension was {ttl}");
    }

    [Fact]
    public async Task Waiting_for_a_lock_that_stays_taken_times_out_naming_the_resource()
    {
        await using var holder = await _locks.AcquireAsync("job-5", TimeSpan.FromSeconds(30), wait: TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<TimeoutException>(
            () => _locks.AcquireAsync("job-5", TimeSpan.FromSeconds(30), wait: TimeSpan.FromMilliseconds(300)));

        Assert.Contains("'job-5'", error.Message);
    }

    [Fact]
    public async Task A_token_issued_after_redis_restarts_empty_is_larger_than_one_a_stale_holder_has()
    {
        var stale = await _locks.AcquireAsync("job-6", TimeSpan.FromMilliseconds(500), wait: TimeSpan.FromSeconds(1));

        // Crash cases that keep part of the data: FencingAcrossRedisRestartsTests (Training.Tests).
        _server = await _server.RestartAsync(RedisRestart.Empty);
        var fresh = await _locks.AcquireAsync("job-6", TimeSpan.FromSeconds(30), wait: TimeSpan.FromSeconds(20));

        Assert.True(fresh.FencingToken > stale.FencingToken, $"after an empty restart: token {fresh.FencingToken}, a stale holder has {stale.FencingToken}");
    }
}
