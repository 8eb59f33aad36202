using System.Threading.RateLimiting;
using Grpc.Core;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using MsSwift.Gateway.Auth;

namespace MsSwift.Gateway.RateLimiting;

/// <summary>
/// One token bucket per API key (its <see cref="ApiKeyOptions.RequestsPerSecond"/> and
/// <see cref="ApiKeyOptions.Burst"/>), per gateway replica. Over the limit: 429 with
/// <c>Retry-After</c> (gRPC: RESOURCE_EXHAUSTED). Anonymous requests are refused before this.
/// </summary>
internal static class ApiKeyRateLimiting
{
    public static IServiceCollection AddApiKeyRateLimiting(this IServiceCollection services) => services
        .AddRateLimiter(_ => { })
        .AddSingleton<IConfigureOptions<RateLimiterOptions>, ConfigureLimiter>();

    /// <summary>Refilled ten times a second (or once per token for slow rates), so a caller never waits a whole second for its rate.</summary>
    public static TokenBucketRateLimiterOptions Bucket(double perSecond, int burst)
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

    private sealed class ConfigureLimiter(IOptions<GatewayOptions> gateway) : IConfigureOptions<RateLimiterOptions>
    {
        public void Configure(RateLimiterOptions options)
        {
            options.GlobalLimiter = new ApiKeyLimiter(gateway.Value.ApiKeys);
            options.OnRejected = (context, _) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var http = context.HttpContext;
                return new ValueTask(GatewayRejection.WriteAsync(http, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, "Too many requests",
                    $"API key '{http.User.Identity?.Name}' is over its rate limit; retry after {Math.Ceiling(retryAfter.TotalSeconds)} s", retryAfter));
            };
        }
    }
}
