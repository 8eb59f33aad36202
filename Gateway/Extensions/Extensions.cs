using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Gateway.Auth;
using MsSwift.Gateway.RateLimiting;
using MsSwift.Gateway.Routing;
using MsSwift.Gateway.Telemetry;

namespace MsSwift.Gateway.Extensions;

internal static class Extensions
{
    /// <summary>
    /// YARP routes and clusters come from the <c>ReverseProxy</c> section; destinations are
    /// service-discovery names (<c>http://inference</c>, <c>http://_grpc.inference</c>). Every
    /// route names the scope it needs as its authorization policy.
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddProblemDetails();
        // The gateway serves only gRPC health itself: every other gRPC service must reach YARP,
        // not gRPC's "unimplemented service" fallback.
        builder.Services.Configure<Grpc.AspNetCore.Server.GrpcServiceOptions>(options => options.IgnoreUnknownServices = true);

        builder.Services.AddSingleton<ApiKeyRing>();
        builder.Services.AddSingleton<InvalidKeyThrottle>();
        // Scopes are checked by ApiKeyAccess, not ASP.NET Core's authorization middleware: the
        // policies are there for YARP's route validation, and the endpoint middleware is told
        // that the routes' authorization metadata is handled.
        builder.Services.AddAuthorization(ScopeRequirement.AddPolicies);
        builder.Services.Configure<RouteOptions>(options => options.SuppressCheckForUnhandledSecurityMetadata = true);
        builder.Services.AddRequestSizeLimit();

        // The asynchronous predict path queues requests on Kafka. Without a broker only that path
        // fails (503), so the gateway reports itself Degraded and stays ready for everything else.
        builder.AddKafka(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded);

        builder.Services.AddServiceGrpcClient<ModelRegistry.ModelRegistryClient>("http://_grpc.registry");
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CanaryTable>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CanaryTable>());

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddServiceDiscoveryDestinationResolver()
            .AddReplicaAddressResolver()
            .AddGatewayTransforms()
            .AddForwardedTraceContext()
            .AddRouteBodyLimits();
    }
}
