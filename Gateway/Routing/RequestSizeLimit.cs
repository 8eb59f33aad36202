using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using MsSwift.Gateway.Auth;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// <see cref="GatewayOptions.MaxRequestBodyBytes"/>: Kestrel stops reading any body beyond it,
/// and a request that declares a larger Content-Length is refused before it is forwarded.
/// </summary>
internal static class RequestSizeLimit
{
    public static IServiceCollection AddRequestSizeLimit(this IServiceCollection services) =>
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, ConfigureKestrel>();

    public static IApplicationBuilder UseRequestSizeLimit(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyBytes;
        return context.Request.ContentLength > limit
            ? GatewayRejection.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, StatusCode.ResourceExhausted, "Request too large",
                $"the request body of {context.Request.ContentLength} bytes exceeds the gateway's limit of {limit} bytes")
            : next(context);
    });

    private sealed class ConfigureKestrel(IOptions<GatewayOptions> gateway) : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions options) => options.Limits.MaxRequestBodySize = gateway.Value.MaxRequestBodyBytes;
    }
}
