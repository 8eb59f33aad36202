using MsSwift.Gateway.Auth;
using MsSwift.Gateway.Telemetry;
using Yarp.ReverseProxy.Transforms;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// What every forwarded request gets: the caller's credentials removed (backends never see keys),
/// no X-Forwarded-* headers, the caller's name added, and, for model traffic, the canary draw: for each model with a canary,
/// the version pinned with the canary's probability in <see cref="VersionPinsHeader"/>. Inference
/// uses a pin only for requests that name no version and only if it has that version loaded.
/// </summary>
internal static class ProxyTransforms
{
    public const string VersionPinsHeader = "x-msswift-version-pins";
    public const string CallerHeader = "x-msswift-caller";

    /// <summary>Route metadata key: routes with <c>"Canary": "true"</c> carry model traffic.</summary>
    public const string CanaryMetadata = "Canary";

    public static IReverseProxyBuilder AddGatewayTransforms(this IReverseProxyBuilder proxy) => proxy.AddTransforms(builder =>
    {
        // No X-Forwarded-* headers: the backends are internal, learn the caller from CallerHeader,
        // and never use the client's address (only the gateway does, for its invalid-key throttle).
        // YARP's defaults built and the backend parsed four headers per request for nobody.
        builder.UseDefaultForwarders = false;
        builder.AddRequestHeaderRemove("Authorization");
        builder.AddRequestHeaderRemove(ApiKeyAccess.ApiKeyHeader);
        builder.AddRequestHeaderRemove(CallerHeader);
        builder.AddRequestHeaderRemove(VersionPinsHeader);
        builder.AddRequestTransform(context =>
        {
            if (context.HttpContext.User.Identity?.Name is { } caller)
            {
                context.ProxyRequest.Headers.TryAddWithoutValidation(CallerHeader, caller);
            }

            return ValueTask.CompletedTask;
        });

        if (builder.Route.Metadata?.GetValueOrDefault(CanaryMetadata) != "true")
        {
            return;
        }

        var canaries = builder.Services.GetRequiredService<CanaryTable>();
        var metrics = builder.Services.GetRequiredService<GatewayMetrics>();
        builder.AddRequestTransform(context =>
        {
            var current = canaries.Current;
            if (current.Count == 0)
            {
                return ValueTask.CompletedTask;
            }

            List<string>? pins = null;
            foreach (var (model, canary) in current)
            {
                if (Random.Shared.Next(100) < canary.Percent)
                {
                    (pins ??= []).Add($"{model}={canary.Version}");
                    metrics.RoutedToCanary(model, canary.Version);
                }
            }

            if (pins is not null)
            {
                context.ProxyRequest.Headers.TryAddWithoutValidation(VersionPinsHeader, string.Join(',', pins));
            }

            return ValueTask.CompletedTask;
        });
    });
}
