using System.Globalization;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// A route's own body limit, replacing <see cref="GatewayOptions.MaxRequestBodyBytes"/> for the
/// requests it matches: YARP route metadata <c>"MaxRequestBodyBytes": "1073741824"</c> (dataset
/// uploads go to the data service, which takes up to <c>Data:MaxUploadBytes</c>). YARP refuses a
/// configuration whose value is not a positive whole number, so the gateway does not start with
/// one, and a reload with one is rejected; the value is parsed once per route configuration.
/// </summary>
internal static class RouteBodyLimit
{
    public const string MetadataKey = "MaxRequestBodyBytes";

    // Keyed by the route's configuration object: a reload brings new ones, and old ones are collected.
    private static readonly ConditionalWeakTable<RouteConfig, Parsed> Cache = new();

    public static IReverseProxyBuilder AddRouteBodyLimits(this IReverseProxyBuilder proxy) => proxy.AddConfigFilter<Validator>();

    /// <summary>The limit of the proxy route the request matched; null when it has none of its own (or no proxy route matched).</summary>
    public static long? Of(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>()?.Config is { } route
            ? Cache.GetValue(route, static config => Parse(config)).Bytes
            : null;

    private static Parsed Parse(RouteConfig route)
    {
        if (route.Metadata?.GetValueOrDefault(MetadataKey) is not { } value)
        {
            return new Parsed(null, null);
        }

        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? new Parsed(bytes, null)
            : new Parsed(null, $"ReverseProxy:Routes:{route.RouteId}:Metadata:{MetadataKey} must be a positive whole number of bytes, got '{value}'");
    }

    private sealed record Parsed(long? Bytes, string? Problem);

    /// <summary>Runs on every configuration YARP loads, at start and on reload.</summary>
    private sealed class Validator : IProxyConfigFilter
    {
        public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel) => new(cluster);

        public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
            Parse(route).Problem is { } problem ? throw new InvalidOperationException(problem) : new(route);
    }
}
