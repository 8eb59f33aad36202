using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MsSwift.ServiceDefaults.Grpc;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.ServiceDefaults.Shutdown;
using MsSwift.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every MsSwift service shares: telemetry, health endpoints, service discovery and
/// resilience. Kafka and Redis are opted into per service (<c>AddKafka</c>, <c>AddRedis</c>).
/// </summary>
public static class Extensions
{
    /// <summary>Readiness: every registered check (model loaded, Redis and Kafka reachable).</summary>
    public const string HealthEndpointPath = "/healthz";

    /// <summary>Liveness: only checks tagged <see cref="LiveTag"/>; the process answers at all.</summary>
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Prometheus scrape endpoint.</summary>
    public const string MetricsEndpointPath = "/metrics";

    /// <summary>
    /// Kestrel endpoint (<c>Kestrel:Endpoints:Management:Url</c>) that, when a service configures
    /// it, is the only port answering <see cref="MetricsEndpointPath"/>: a service whose other
    /// ports face the public (the gateway) keeps its internal metrics off them.
    /// </summary>
    public const string ManagementEndpointName = "Management";

    /// <summary>Tag for health checks that belong to liveness.</summary>
    public const string LiveTag = "live";

    /// <summary>Meter and activity-source names of the product all start with this.</summary>
    public const string TelemetryPrefix = "MsSwift.";

    /// <summary>
    /// <c>true</c> traces a service's background work too (probes, polling, timers), which
    /// <see cref="BackgroundWorkSampler"/> otherwise drops; the SDK's own sampler then decides
    /// (parent-based, always on, or what <c>OTEL_TRACES_SAMPLER</c> says).
    /// </summary>
    public const string TraceBackgroundWorkKey = "Telemetry:TraceBackgroundWork";

    /// <summary>The gRPC health service's path: probed by Kubernetes and load balancers, never a user's request.</summary>
    private const string GrpcHealthPath = "/grpc.health.v1.Health";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        // Read before anything listens, so a value that is not a boolean stops the service at start naming the key.
        var traceBackgroundWork = builder.Configuration.GetValue<bool>(TraceBackgroundWorkKey);
        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(TelemetryPrefix + "*")
                // No scrape cache: every scrape (and every test) sees current values.
                .AddPrometheusExporter(options => options.ScrapeResponseCacheDurationMilliseconds = 0))
            .WithTracing(tracing => tracing
                .SetBackgroundWorkSampling(traceBackgroundWork)
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(TelemetryPrefix + "*")
                .AddAspNetCoreInstrumentation(options =>
                    // Probes and scrapes would drown the traces that matter.
                    options.Filter = context => !IsInfrastructurePath(context.Request.Path))
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag])
            .AddCheck<ShutdownDrain>("shutdown");
        builder.AddShutdownDrain();
        // The same checks answer grpc.health.v1.Health on gRPC-only ports.
        builder.Services.AddGrpc();
        builder.Services.AddGrpcHealthChecks();
        return builder;
    }

    /// <summary>
    /// Maps <c>/healthz</c>, <c>/alive</c>, <c>/metrics</c> and the gRPC health service. They are
    /// mapped in every environment because Kubernetes probes and Prometheus need them. With a
    /// <see cref="ManagementEndpointName"/> endpoint configured, <c>/metrics</c> answers only there
    /// (404 on every other port); health stays on every port, for probes and YARP's health checks.
    /// Also answers gRPC requests whose message is not valid protobuf with INVALID_ARGUMENT.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseUnreadableRequestRefusal();
        app.UseRedisUnavailableAs503();
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
        });
        if (ManagementPort(app.Configuration) is { } managementPort)
        {
            app.MapPrometheusScrapingEndpoint(MetricsEndpointPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use((context, next) =>
            {
                // The port the connection arrived on, not the Host header, which the caller chooses.
                if (context.Connection.LocalPort == managementPort)
                {
                    return next(context);
                }

                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }), optionsName: null);
        }
        else
        {
            app.MapPrometheusScrapingEndpoint(MetricsEndpointPath);
        }

        app.MapGrpcHealthChecksService();
        return app;
    }

    /// <summary>The port of the <see cref="ManagementEndpointName"/> Kestrel endpoint, if one is configured.</summary>
    private static int? ManagementPort(IConfiguration configuration)
    {
        var key = $"Kestrel:Endpoints:{ManagementEndpointName}:Url";
        if (configuration[key] is not { Length: > 0 } url)
        {
            return null;
        }

        var port = BindingAddress.Parse(url).Port;
        return port > 0 ? port : throw new InvalidOperationException($"{key} must name a fixed port, got '{url}'");
    }

    private static TracerProviderBuilder SetBackgroundWorkSampling(this TracerProviderBuilder tracing, bool traceBackgroundWork) =>
        traceBackgroundWork ? tracing : tracing.SetSampler(BackgroundWorkSampler.ForServices());

    private static bool IsInfrastructurePath(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath)
        || path.StartsWithSegments(GrpcHealthPath)
        || path.StartsWithSegments(AlivenessEndpointPath)
        || path.StartsWithSegments(MetricsEndpointPath);
}
