namespace MsSwift.AppHost;

internal static class GatewayResource
{
    /// <summary>
    /// Adds the YARP gateway with its HTTP and gRPC ports, reachable from outside, and prints both
    /// addresses once it is ready.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway(this IDistributedApplicationBuilder builder, int httpPort, int grpcPort) =>
        builder.AddService<Projects.MsSwift_Gateway>("gateway", httpPort, grpcPort)
            .WithExternalHttpEndpoints()
            .AnnounceGatewayWhenReady();
}
