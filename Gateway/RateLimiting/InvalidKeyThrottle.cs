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

    public InvalidKeyThrottle(IOptions<GatewayOptions> options)
    {
        var limit = options.Value.InvalidKeyLimit;
        _perToken = TimeSpan.FromSeconds(1 / limit.PerSecond);
        _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
            RateLimitPartition.GetTokenBucketLimiter(address, _ => ApiKeyRateLimiting.Bucket(limit.PerSecond, limit.Burst)));
    }

    /// <summary>Null when <paramref name="address"/> may present a key now; otherwise how long until it may (at most).</summary>
    public TimeSpan? RetryAfter(IPAddress? address) =>
        // Whole tokens: a partitioned bucket refills continuously, and AttemptAcquire(0) would
        // already succeed on a fraction of a token that no guess can spend.
        _limiter.GetStatistics(Normalize(address)) is { CurrentAvailablePermits: >= 1 } ? null : _perToken;

    /// <summary>Spends a token of <paramref name="address"/>'s bucket for a key that was not valid.</summary>
    public void Spend(IPAddress? address) => _limiter.AttemptAcquire(Normalize(address)).Dispose();

    public void Dispose() => _limiter.Dispose();

    /// <summary>IPv4 callers of a dual-stack socket arrive as ::ffff:a.b.c.d; they share the IPv4 address's bucket.</summary>
    private static IPAddress Normalize(IPAddress? address) =>
        address is null ? IPAddress.None : address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
