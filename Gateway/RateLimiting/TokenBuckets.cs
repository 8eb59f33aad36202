using System.Threading.RateLimiting;

namespace MsSwift.Gateway.RateLimiting;

/// <summary>The gateway's token buckets: one per API key (its rate limit) and one per address that presents invalid keys.</summary>
internal static class TokenBuckets
{
    /// <summary>Refilled ten times a second (or once per token for slow rates), so a caller never waits a whole second for its rate.</summary>
    public static TokenBucketRateLimiterOptions Options(double perSecond, int burst)
    {
        var tokensPerPeriod = Math.Max(1, (int)Math.Round(perSecond / 10));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokensPerPeriod / perSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }
}
