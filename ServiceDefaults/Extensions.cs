using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MsSwift.ServiceDefaults.Grpc;
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

    /// <summary>Tag for health checks that belong to liveness.</summary>
    public const string LiveTag = "live";

    /// <summary>Meter and activity-source names of the product all start with this.</summary>
    public const string TelemetryPrefix = "MsSwift.";

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

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(TelemetryPrefix + "*")
                // No scrape cache: every scrape (and every test) sees current values.
                .AddPrometheusExporter(options => options.ScrapeResponseCacheDurationMilliseconds = 0))
            .WithTracing(tracing => tracing
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
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        // The same checks answer grpc.health.v1.Health on gRPC-only ports.
        builder.Services.AddGrpc();
        builder.Services.AddGrpcHealthChecks();
        return builder;
    }

    /// <summary>
    /// Maps <c>/healthz</c>, <c>/alive</c>, <c>/metrics</c> and the gRPC health service. They are
    /// mapped in every environment because Kubernetes probes and Prometheus need them. Also
    /// answers gRPC requests whose message is not valid protobuf with INVALID_ARGUMENT.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseUnreadableRequestRefusal();
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
        });
        app.MapPrometheusScrapingEndpoint(MetricsEndpointPath);
        app.MapGrpcHealthChecksService();
        return app;
    }

    private static bool IsInfrastructurePath(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath)
        || path.StartsWithSegments(AlivenessEndpointPath)
        || path.StartsWithSegments(MetricsEndpointPath);
}
