using System.Collections.Frozen;
using System.Threading.RateLimiting;

namespace MsSwift.Gateway.RateLimiting;

/// <summary>
/// The per-key token buckets, built once from the configured keys and looked up by the caller's
/// name; requests without an authenticated caller are not limited here (they were refused before).
/// In place of <c>PartitionedRateLimiter.Create</c>, whose partition lookup takes a lock and whose
/// partition callback searched the key list on every request.
/// </summary>
internal sealed class ApiKeyLimiter(IEnumerable<ApiKeyOptions> keys) : PartitionedRateLimiter<HttpContext>
{
    private static readonly RateLimitLease Unlimited = new NoLimitLease();

    private readonly FrozenDictionary<string, TokenBucketRateLimiter> _byCaller = keys.ToFrozenDictionary(
        key => key.Name, key => new TokenBucketRateLimiter(ApiKeyRateLimiting.Bucket(key.RequestsPerSecond, key.Burst)), StringComparer.Ordinal);

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => Of(resource)?.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        Of(resource) is { } bucket ? bucket.AttemptAcquire(permitCount) : Unlimited;

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        Of(resource) is { } bucket ? bucket.AcquireAsync(permitCount, cancellationToken) : new(Unlimited);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var bucket in _byCaller.Values)
            {
                bucket.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    private TokenBucketRateLimiter? Of(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true, Name: { } caller } ? _byCaller.GetValueOrDefault(caller) : null;

    private sealed class NoLimitLease : RateLimitLease
    {
        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
