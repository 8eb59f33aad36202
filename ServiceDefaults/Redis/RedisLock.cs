using StackExchange.Redis;

namespace MsSwift.ServiceDefaults.Redis;

/// <summary>
/// A lease-based mutual-exclusion lock in Redis with fencing tokens. Taking the lock sets the key
/// with <c>NX PX</c> and, in the same script, increments a per-resource counter: the returned
/// <see cref="RedisLockLease.FencingToken"/> grows with every acquisition, so a holder whose lease
/// expired (a paused process) can be told apart from the current one by whoever it writes to.
/// Releasing and extending only touch the key when it still holds this owner's id.
/// </summary>
public sealed class RedisLock(IConnectionMultiplexer redis, TimeProvider timeProvider)
{
    public const string KeyPrefix = "msswift:lock:";

    private static readonly LuaScript AcquireScript = LuaScript.Prepare(
        "if redis.call('SET', @key, @owner, 'NX', 'PX', @ttl) then return redis.call('INCR', @fence) else return 0 end");

    private static readonly TimeSpan MinimumRetryDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaximumRetryDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>Takes the lock if it is free; <c>null</c> when someone else holds it.</summary>
    public async Task<RedisLockLease?> TryAcquireAsync(string resource, TimeSpan leaseTime)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resource);
        ArgumentOutOfRangeException.ThrowIfLessThan(leaseTime, TimeSpan.FromMilliseconds(1));

        var owner = Guid.NewGuid().ToString("N");
        var key = KeyPrefix + resource;
        var token = (long)await redis.GetDatabase().ScriptEvaluateAsync(AcquireScript, new
        {
            key = (RedisKey)key,
            fence = (RedisKey)(key + ":fence"),
            owner,
            ttl = (long)leaseTime.TotalMilliseconds,
        });
        return token == 0 ? null : new RedisLockLease(redis, resource, key, owner, token);
    }

    /// <summary>
    /// Waits up to <paramref name="wait"/> for the lock, retrying with jittered backoff.
    /// Throws <see cref="TimeoutException"/> when it stays taken.
    /// </summary>
    public async Task<RedisLockLease> AcquireAsync(string resource, TimeSpan leaseTime, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var deadline = timeProvider.GetTimestamp();
        var delay = MinimumRetryDelay;
        while (true)
        {
            if (await TryAcquireAsync(resource, leaseTime) is { } lease)
            {
                return lease;
            }

            if (timeProvider.GetElapsedTime(deadline) >= wait)
            {
                throw new TimeoutException($"lock '{resource}' is held by another owner; gave up after {wait.TotalSeconds:0.###} s");
            }

            await Task.Delay(delay * (0.5 + Random.Shared.NextDouble()), timeProvider, cancellationToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaximumRetryDelay.Ticks));
        }
    }
}

/// <summary>A held <see cref="RedisLock"/>. Dispose to release it.</summary>
public sealed class RedisLockLease : IAsyncDisposable
{
    private static readonly LuaScript ReleaseScript = LuaScript.Prepare(
        "if redis.call('GET', @key) == @owner then return redis.call('DEL', @key) else return 0 end");

    private static readonly LuaScript ExtendScript = LuaScript.Prepare(
        "if redis.call('GET', @key) == @owner then return redis.call('PEXPIRE', @key, @ttl) else return 0 end");

    private readonly IConnectionMultiplexer _redis;
    private readonly string _key;
    private readonly string _owner;
    private int _released;

    internal RedisLockLease(IConnectionMultiplexer redis, string resource, string key, string owner, long fencingToken)
    {
        _redis = redis;
        Resource = resource;
        _key = key;
        _owner = owner;
        FencingToken = fencingToken;
    }

    public string Resource { get; }

    /// <summary>Strictly increasing per resource across all acquisitions.</summary>
    public long FencingToken { get; }

    /// <summary>Pushes the lease's expiry out; <c>false</c> when the lease was already lost.</summary>
    public async Task<bool> ExtendAsync(TimeSpan leaseTime) =>
        (long)await _redis.GetDatabase().ScriptEvaluateAsync(ExtendScript,
            new { key = (RedisKey)_key, owner = _owner, ttl = (long)leaseTime.TotalMilliseconds }) == 1;

    /// <summary>Releases the lock; <c>false</c> when it had already expired or passed to another owner.</summary>
    public async Task<bool> ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) == 1)
        {
            return false;
        }

        return (long)await _redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript,
            new { key = (RedisKey)_key, owner = _owner }) == 1;
    }

    public async ValueTask DisposeAsync() => await ReleaseAsync();
}
