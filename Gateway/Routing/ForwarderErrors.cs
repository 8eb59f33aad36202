using Grpc.Core;
using MsSwift.Gateway.Auth;
using Yarp.ReverseProxy.Forwarder;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// When forwarding fails before the backend answered, YARP leaves a bare status code: this says
/// what happened, in the caller's protocol (ProblemDetails, or a gRPC status a client can act on).
/// </summary>
internal static class ForwarderErrors
{
    public static IReverseProxyApplicationBuilder UseForwarderErrors(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.Use(async (context, next) =>
        {
            await next();
            if (context.GetForwarderErrorFeature() is not { } failure || context.Response.HasStarted)
            {
                return;
            }

            var cluster = context.GetReverseProxyFeature().Route.Cluster?.ClusterId ?? "the backend";
            var (http, grpc, title, detail) = failure switch
            {
                _ when IsBodyTooLarge(failure.Exception) =>
                    (StatusCodes.Status413PayloadTooLarge, StatusCode.ResourceExhausted, "Request too large", "the request body exceeds the gateway's limit"),
                { Error: ForwarderError.NoAvailableDestinations } =>
                    (StatusCodes.Status503ServiceUnavailable, StatusCode.Unavailable, "No healthy backend", $"no healthy replica of {cluster} is available; retry shortly"),
                { Error: ForwarderError.RequestTimedOut } =>
                    (StatusCodes.Status504GatewayTimeout, StatusCode.DeadlineExceeded, "Backend timed out", $"{cluster} did not answer in time"),
                { Error: ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled } =>
                    (StatusCodes.Status499ClientClosedRequest, StatusCode.Cancelled, "Cancelled", "the caller cancelled the request"),
                _ => (StatusCodes.Status502BadGateway, StatusCode.Unavailable, "Backend unreachable", $"{cluster} could not be reached ({failure.Error})"),
            };
            await GatewayRejection.WriteAsync(context, http, grpc, title, detail);
        });
        return proxy;
    }

    /// <summary>Kestrel's body limit surfaces wrapped in the forwarder's own exception.</summary>
    private static bool IsBodyTooLarge(Exception? error)
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                return true;
            }
        }

        return false;
    }
}
