using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MsSwift.AppHost;

internal static partial class GatewayResource
{
    /// <summary>
    /// Adds the YARP gateway with its HTTP and gRPC ports, reachable from outside, and prints both
    /// addresses once it is ready so a developer knows where to point clients.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway(this IDistributedApplicationBuilder builder, int httpPort, int grpcPort)
    {
        var gateway = builder.AddService<Projects.MsSwift_Gateway>("gateway", httpPort, grpcPort)
            .WithExternalHttpEndpoints();

        builder.Eventing.Subscribe<ResourceReadyEvent>(gateway.Resource, (@event, _) =>
        {
            var logger = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MsSwift.AppHost");
            var httpAddress = gateway.GetEndpoint(ServiceResources.HttpEndpoint).Url;
            var grpcAddress = gateway.GetEndpoint(ServiceResources.GrpcEndpoint).Url;
            LogGatewayReady(logger, httpAddress, grpcAddress);
            return Task.CompletedTask;
        });

        return gateway;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Gateway ready: HTTP {HttpAddress} (OpenAI-compatible API under /v1), gRPC {GrpcAddress} (h2c)")]
    private static partial void LogGatewayReady(ILogger logger, string httpAddress, string grpcAddress);
}
