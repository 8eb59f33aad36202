namespace MsSwift.AppHost;

internal static class GatewayResource
{
    public const string DevelopmentKeyName = "gateway-dev-key";

    /// <summary>
    /// Adds the YARP gateway with its HTTP and gRPC ports, reachable from outside, with one API
    /// key holding every scope: generated for local runs (and printed with the addresses once the
    /// gateway is ready), a secret input in the published manifest (a Kubernetes Secret).
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway(this IDistributedApplicationBuilder builder, int httpPort, int grpcPort)
    {
        var apiKey = builder.AddParameter(DevelopmentKeyName, new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true);
        return builder.AddService<Projects.MsSwift_Gateway>("gateway", httpPort, grpcPort, facesNetwork: true)
            .WithExternalHttpEndpoints()
            .WithEnvironment("Gateway__ApiKeys__0__Name", "dev")
            .WithEnvironment("Gateway__ApiKeys__0__Key", apiKey)
            .WithEnvironment("Gateway__ApiKeys__0__Scopes__0", "admin")
            // Generous, so local load tests and benchmarks measure the cluster, not the limiter.
            .WithEnvironment("Gateway__ApiKeys__0__RequestsPerSecond", "100000")
            .WithEnvironment("Gateway__ApiKeys__0__Burst", "100000")
            .AnnounceGatewayWhenReady(apiKey);
    }
}
