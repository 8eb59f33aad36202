using System.Diagnostics;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace MsSwift.Gateway.RateLimiting;

/// <summary>
/// Bounds key guessing: one token bucket per client address (<see cref="InvalidKeyLimitOptions"/>),
/// spent by every key that is not valid. The address is the connection's peer; behind a proxy that
/// is the proxy, so put the limit where the callers' own addresses are seen.
/// </summary>
internal sealed class InvalidKeyThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _limiter;
    private readonly TimeSpan _perToken;
    private readonly long _refillTicks;
    private long _lastSpent;

    public InvalidKeyThrottle(IOptions<GatewayOptions> options)
    {
        var limit = options.Value.InvalidKeyLimit;
        _perToken = TimeSpan.FromSeconds(1 / limit.PerSecond);
        // Time for an emptied bucket to fill again, plus one refill period of slack.
        var bucket = TokenBuckets.Options(limit.PerSecond, limit.Burst);
        _refillTicks = (long)((TimeSpan.FromSeconds(limit.Burst / limit.PerSecond) + bucket.ReplenishmentPeriod + bucket.ReplenishmentPeriod).TotalSeconds * Stopwatch.Frequency);
        _lastSpent = Stopwatch.GetTimestamp() - _refillTicks - 1;
        _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
            RateLimitPartition.GetTokenBucketLimiter(address, _ => TokenBuckets.Options(limit.PerSecond, limit.Burst)));
    }

    /// <summary>Null when <paramref name="address"/> may present a key now; otherwise how long until it may (at most).</summary>
    /// <remarks>
    /// Every request with a key asks, so the common case takes no lock: when no invalid key was
    /// presented for as long as a bucket takes to fill, every bucket is full and nobody waits.
    /// </remarks>
    public TimeSpan? RetryAfter(IPAddress? address) =>
        Stopwatch.GetTimestamp() - Interlocked.Read(ref _lastSpent) > _refillTicks
            ? null
            // Whole tokens: a partitioned bucket refills continuously, and AttemptAcquire(0) would
            // already succeed on a fraction of a token that no guess can spend.
            : _limiter.GetStatistics(Normalize(address)) is { CurrentAvailablePermits: >= 1 } ? null : _perToken;

    /// <summary>Spends a token of <paramref name="address"/>'s bucket for a key that was not valid.</summary>
    public void Spend(IPAddress? address)
    {
        Interlocked.Exchange(ref _lastSpent, Stopwatch.GetTimestamp());
        _limiter.AttemptAcquire(Normalize(address)).Dispose();
    }

    public void Dispose() => _limiter.Dispose();

    /// <summary>IPv4 callers of a dual-stack socket arrive as ::ffff:a.b.c.d; they share the IPv4 address's bucket.</summary>
    private static IPAddress Normalize(IPAddress? address) =>
        address is null ? IPAddress.None : address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
