namespace MsSwift.AppHost;

/// <summary>How every MsSwift service is wired into the app model.</summary>
internal static class ServiceResources
{
    public const string HttpEndpoint = "http";
    public const string GrpcEndpoint = "grpc";
    public const string ReadinessPath = "/healthz";

    /// <summary>Where Prometheus scrapes a service (<c>/metrics</c> answers only there); never exposed outside the cluster.</summary>
    public const string ManagementEndpoint = "management";

    // In a container each service owns its network namespace, so published services share ports.
    private const int ContainerHttpPort = 8080;
    private const int ContainerGrpcPort = 8081;
    private const int ContainerManagementPort = 9090;
    private const string PublishedDrainSeconds = "5";

    /// <summary>
    /// Adds a service with two endpoints: <c>http</c> (HTTP/1.1 and HTTP/2 for REST, health,
    /// metrics) and <c>grpc</c> (cleartext HTTP/2 only, as gRPC without TLS needs), with readiness
    /// on <c>/healthz</c>. Other services reach them as <c>http://name</c> and <c>http://_grpc.name</c>.
    /// In a local run a service listens on loopback only, unless it <paramref name="facesNetwork"/>
    /// (the gateway): nothing else may be reached from another machine past the gateway's keys.
    /// Published, and for the network-facing gateway in every mode, a third endpoint,
    /// <c>management</c>, serves the metrics, so a network policy can let Prometheus reach
    /// metrics without reaching the API.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddService<TProject>(
        this IDistributedApplicationBuilder builder, string name, int? httpPort = null, int? grpcPort = null, bool facesNetwork = false)
        where TProject : IProjectMetadata, new()
    {
        var publishing = builder.ExecutionContext.IsPublishMode;
        var service = builder.AddProject<TProject>(name)
            .WithHttpEndpoint(port: httpPort, targetPort: publishing ? ContainerHttpPort : null, name: HttpEndpoint, env: "HTTP_TARGET_PORT")
            .WithHttpEndpoint(port: grpcPort, targetPort: publishing ? ContainerGrpcPort : null, name: GrpcEndpoint, env: "GRPC_TARGET_PORT")
            .WithEndpoint(GrpcEndpoint, endpoint => endpoint.Transport = "http2")
            .WithKestrelEndpoint(HttpEndpoint, "Http", facesNetwork)
            .WithKestrelEndpoint(GrpcEndpoint, "Grpc", facesNetwork)
            .WithEnvironment("Kestrel__Endpoints__Grpc__Protocols", "Http2")
            .WithHttpHealthCheck(ReadinessPath, endpointName: HttpEndpoint);
        if (publishing)
        {
            // Kubernetes takes a few seconds to take a terminating pod out of its Service's endpoints
            // (and the gateway one health-check round): serve on, unready, until they have.
            service.WithEnvironment("Shutdown__DrainSeconds", PublishedDrainSeconds);
        }

        return publishing || facesNetwork
            ? service
                // Named env, as the others, so that Aspire does not also list the port in HTTP_PORTS.
                .WithHttpEndpoint(targetPort: publishing ? ContainerManagementPort : null, name: ManagementEndpoint, env: "MANAGEMENT_TARGET_PORT")
                // The Kestrel endpoint name MsSwift.ServiceDefaults serves /metrics on, and only there.
                .WithKestrelEndpoint(ManagementEndpoint, "Management", facesNetwork: false)
            : service;
    }

    /// <summary>
    /// Has Kestrel endpoint <paramref name="kestrelName"/> listen on the target port of
    /// <paramref name="endpointName"/>: on every interface in a container (its own network
    /// namespace) or when it <paramref name="facesNetwork"/>, else on loopback, where the
    /// orchestrator's proxy and the other local services reach it.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithKestrelEndpoint(
        this IResourceBuilder<ProjectResource> service, string endpointName, string kestrelName, bool facesNetwork)
    {
        var host = facesNetwork || service.ApplicationBuilder.ExecutionContext.IsPublishMode ? "*" : "localhost";
        var endpoint = service.GetEndpoint(endpointName);
        return service.WithEnvironment($"Kestrel__Endpoints__{kestrelName}__Url",
            ReferenceExpression.Create($"http://{host}:{endpoint.Property(EndpointProperty.TargetPort)}"));
    }

    /// <summary>References a dependency and, where it has a lifecycle to wait on, starts after it is healthy.</summary>
    public static IResourceBuilder<ProjectResource> WithDependency(
        this IResourceBuilder<ProjectResource> service, IResourceBuilder<IResourceWithConnectionString> dependency)
    {
        service.WithReference(dependency);
        return dependency.Resource is IResourceWithWaitSupport ? service.WaitFor(dependency) : service;
    }

    /// <summary>References another service (service discovery) and starts after it is healthy.</summary>
    public static IResourceBuilder<ProjectResource> WithDependency(
        this IResourceBuilder<ProjectResource> service, IResourceBuilder<ProjectResource> dependency) =>
        service.WithReference(dependency).WaitFor(dependency);
}
