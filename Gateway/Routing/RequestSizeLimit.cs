using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using MsSwift.Gateway.Auth;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// <see cref="GatewayOptions.MaxRequestBodyBytes"/>: Kestrel stops reading any body beyond it,
/// a request that declares a larger Content-Length is refused before it is forwarded, and gRPC
/// bodies (which YARP exempts from Kestrel's limit) are counted as they stream. A route with its
/// own limit (<see cref="RouteBodyLimit"/>) gets that one instead, in all three places; so this
/// runs after routing, once the matched route is known.
/// </summary>
internal static class RequestSizeLimit
{
    public static IServiceCollection AddRequestSizeLimit(this IServiceCollection services) =>
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, ConfigureKestrel>();

    public static IApplicationBuilder UseRequestSizeLimit(this IApplicationBuilder app)
    {
        // Read once: the gateway's options are not reloaded.
        var gatewayLimit = app.ApplicationServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyBytes;
        return app.Use((context, next) => Enforce(context, next, gatewayLimit));
    }

    private static Task Enforce(HttpContext context, RequestDelegate next, long gatewayLimit)
    {
        var routeLimit = RouteBodyLimit.Of(context);
        var limit = routeLimit ?? gatewayLimit;
        if (context.Request.ContentLength > limit)
        {
            // The unread body is over Kestrel's limit, so the connection cannot be drained for
            // reuse: say so, or an HTTP/1.1 client sends its next request into a closing socket.
            if (!HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
            {
                context.Response.Headers.Connection = "close";
            }

            return GatewayRejection.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, StatusCode.ResourceExhausted, "Request too large",
                $"the request body of {context.Request.ContentLength} bytes exceeds the gateway's limit of {limit} bytes");
        }

        // Kestrel's limit is the global one; a streamed body on this route may read up to the route's.
        if (routeLimit is { } own && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = own;
        }

        if (GatewayRejection.IsGrpc(context.Request))
        {
            context.Request.Body = new BodyLimitStream(context.Request.Body, limit);
        }

        return next(context);
    }

    private sealed class ConfigureKestrel(IOptions<GatewayOptions> gateway) : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions options) => options.Limits.MaxRequestBodySize = gateway.Value.MaxRequestBodyBytes;
    }
}
