using StackExchange.Redis;

namespace MsSwift.ServiceDefaults.Redis;

/// <summary>
/// A lease-based mutual-exclusion lock in Redis with fencing tokens. Taking the lock sets the key
/// with <c>NX PX</c> and, in the same script, issues the next <see cref="RedisLockLease.FencingToken"/>,
/// so a holder whose lease expired (a paused process) can be told apart from the current one by
/// whoever it writes to. Releasing and extending only touch the key when it still holds this owner's id.
/// </summary>
/// <remarks>
/// <para>
/// A token is <c>max(last + 1, now)</c>: <c>last</c> is the resource's previous token (kept in
/// Redis beside the lock) and <c>now</c> is Redis's own clock (<c>TIME</c>) in microseconds, read in
/// the same script. Why tokens never go backwards, even when Redis restarts:
/// </para>
/// <list type="bullet">
/// <item>While Redis runs, scripts run one at a time and each token is at least <c>last + 1</c>:
/// tokens strictly increase.</item>
/// <item>A restart may lose <c>last</c>: the last second of writes with <c>appendfsync everysec</c>,
/// or everything without persistence. A token issued before the restart is at most the
/// microsecond it was issued at, unless acquisitions of one resource came faster than one per
/// microsecond (each needs a round trip and the previous holder's release, so they come orders of
/// magnitude slower). Every token issued after the restart is at least the microsecond it is
/// issued at, which is later. So a new leader's token is larger than any token a stale holder
/// still has, whatever Redis kept.</item>
/// <item>Stores that accept fenced writes keep the highest token that wrote (as
/// <c>JobStateStore</c> does) and refuse lower ones, so the stale holder is refused as soon as the
/// new leader has written.</item>
/// </list>
/// <para>
/// The assumption: Redis's clock does not step back across a restart by more than the restart
/// took (the wall clock of one machine, NTP-slewed; a restore onto a host whose clock is behind
/// breaks it). A token is about 1.8e15 today, exact in Lua's doubles until the year 2255.
/// </para>
/// </remarks>
public sealed class RedisLock(IConnectionMultiplexer redis, TimeProvider timeProvider)
{
    public const string KeyPrefix = "msswift:lock:";

    // max(last + 1, Redis's clock in microseconds): see the remarks above.
    private static readonly LuaScript AcquireScript = LuaScript.Prepare("""
        if not redis.call('SET', @key, @owner, 'NX', 'PX', @ttl) then return 0 end
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local token = math.max((tonumber(redis.call('GET', @fence)) or 0) + 1, now)
        redis.call('SET', @fence, string.format('%.0f', token))
        return token
        """);

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

    /// <summary>Strictly increasing per resource across all acquisitions, Redis restarts included (see <see cref="RedisLock"/>).</summary>
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
