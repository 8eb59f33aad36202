using Yarp.ReverseProxy.Forwarder;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// Sends a request that could not reach its replica (the connection was refused or could not be
/// made: the replica is stopping, was killed, or is not up yet) to another replica of the cluster,
/// until one answers or every available replica was tried. Only a failure to connect is retried:
/// then not a byte of the request left the gateway, so the caller's body is still unread and no
/// backend saw the request. Anything that may have reached a backend (a reset mid-request, a
/// timeout) is not retried, because the gateway cannot know whether it was acted on.
/// </summary>
internal static partial class UnreachedRetry
{
    /// <summary>Goes before load balancing, which narrows the available destinations to the one it picked.</summary>
    public static IReverseProxyApplicationBuilder UseUnreachedRetry(this IReverseProxyApplicationBuilder proxy)
    {
        var logger = proxy.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(UnreachedRetry).FullName!);
        proxy.Use(async (context, next) =>
        {
            var proxyFeature = context.GetReverseProxyFeature();
            var candidates = proxyFeature.AvailableDestinations;
            await next();
            while (NeverReached(context) && proxyFeature.ProxiedDestination is { } failed && candidates.Count > 1)
            {
                // Allocates only on this path, which a healthy cluster never takes.
                candidates = [.. candidates.Where(destination => destination != failed)];
                proxyFeature.AvailableDestinations = candidates;
                proxyFeature.ProxiedDestination = null;
                context.Features.Set<IForwarderErrorFeature>(null);
                context.Response.StatusCode = StatusCodes.Status200OK;
                LogRetrying(logger, failed.DestinationId, proxyFeature.Cluster.Config.ClusterId);
                await next();
            }
        });
        return proxy;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Destination} of {Cluster} could not be reached; sending the request to another replica")]
    private static partial void LogRetrying(ILogger logger, string destination, string cluster);

    private static bool NeverReached(HttpContext context)
    {
        if (context.Response.HasStarted || context.GetForwarderErrorFeature() is not { Error: ForwarderError.Request } failure)
        {
            return false;
        }

        for (var error = failure.Exception; error is not null; error = error.InnerException)
        {
            if (error is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError })
            {
                return true;
            }
        }

        return false;
    }
}
