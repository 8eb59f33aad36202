namespace MsSwift.AppHost;

internal static class GatewayResource
{
    public const string DevelopmentKeyName = "gateway-dev-key";

    /// <summary>Where Prometheus scrapes the gateway; never exposed outside the cluster.</summary>
    public const string ManagementEndpoint = "management";

    private const int ContainerManagementPort = 9090;

    /// <summary>
    /// Adds the YARP gateway with its HTTP and gRPC ports, reachable from outside, with one API
    /// key holding every scope: generated for local runs (and printed with the addresses once the
    /// gateway is ready), a required secret input in the published manifest, with no default, so
    /// the operator supplies it (a Kubernetes Secret) and no deployment tool invents one. Its
    /// metrics are served only on the internal <see cref="ManagementEndpoint"/> port.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddGateway(this IDistributedApplicationBuilder builder, int httpPort, int grpcPort)
    {
        var apiKey = builder.ExecutionContext.IsPublishMode
            ? builder.AddParameter(DevelopmentKeyName, secret: true)
            : builder.AddParameter(DevelopmentKeyName, new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true);
        return builder.AddService<Projects.MsSwift_Gateway>("gateway", httpPort, grpcPort, facesNetwork: true)
            .WithExternalHttpEndpoints()
            // After WithExternalHttpEndpoints, which marks only the endpoints that exist by then. Named
            // env, as the others, so that Aspire does not also list the port in HTTP_PORTS.
            .WithHttpEndpoint(targetPort: builder.ExecutionContext.IsPublishMode ? ContainerManagementPort : null, name: ManagementEndpoint, env: "MANAGEMENT_TARGET_PORT")
            // The Kestrel endpoint name MsSwift.ServiceDefaults serves /metrics on, and only there.
            .WithKestrelEndpoint(ManagementEndpoint, "Management", facesNetwork: false)
            .WithEnvironment("Gateway__ApiKeys__0__Name", "dev")
            .WithEnvironment("Gateway__ApiKeys__0__Key", apiKey)
            .WithEnvironment("Gateway__ApiKeys__0__Scopes__0", "admin")
            // Generous, so local load tests and benchmarks measure the cluster, not the limiter.
            .WithEnvironment("Gateway__ApiKeys__0__RequestsPerSecond", "100000")
            .WithEnvironment("Gateway__ApiKeys__0__Burst", "100000")
            .AnnounceGatewayWhenReady(apiKey);
    }
}
