namespace MsSwift.AppHost;

internal static class GatewayResource
{
    public const string DevelopmentKeyName = "gateway-dev-key";

    /// <summary>
    /// Adds the YARP gateway with its HTTP and gRPC ports, reachable from outside, with one API
    /// key holding every scope: generated for local runs (and printed with the addresses once the
    /// gateway is ready), a required secret input in the published manifest, with no default, so
    /// the operator supplies it (a Kubernetes Secret) and no deployment tool invents one. Its
    /// metrics are served only on the internal <see cref="ServiceResources.ManagementEndpoint"/> port.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway(this IDistributedApplicationBuilder builder, int httpPort, int grpcPort)
    {
        var apiKey = builder.ExecutionContext.IsPublishMode
            ? builder.AddParameter(DevelopmentKeyName, secret: true)
            : builder.AddParameter(DevelopmentKeyName, new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true);
        return builder.AddService<Projects.MsSwift_Gateway>("gateway", httpPort, grpcPort, facesNetwork: true)
            // The API ports only: the management port stays inside the cluster.
            .WithEndpoint(ServiceResources.HttpEndpoint, endpoint => endpoint.IsExternal = true)
            .WithEndpoint(ServiceResources.GrpcEndpoint, endpoint => endpoint.IsExternal = true)
            .WithEnvironment("Gateway__ApiKeys__0__Name", "dev")
            .WithEnvironment("Gateway__ApiKeys__0__Key", apiKey)
            .WithEnvironment("Gateway__ApiKeys__0__Scopes__0", "admin")
            // Generous, so local load tests and benchmarks measure the cluster, not the limiter.
            .WithEnvironment("Gateway__ApiKeys__0__RequestsPerSecond", "100000")
            .WithEnvironment("Gateway__ApiKeys__0__Burst", "100000")
            .AnnounceGatewayWhenReady(apiKey);
    }
}
