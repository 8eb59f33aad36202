using System.Net;
using Grpc.Health.V1;
using Grpc.Net.Client;
using MsSwift.Testing;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>Health, liveness, metrics and gRPC health of a service wired to real Redis and Kafka processes.</summary>
public sealed class DefaultEndpointsTests : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private KafkaDevBroker _kafka = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _kafka = await KafkaDevBroker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _kafka.DisposeAsync();
    }

    [Fact]
    public async Task A_service_with_reachable_dependencies_is_ready_alive_scrapable_and_serving_over_grpc()
    {
        var (app, httpPort, grpcPort) = ServiceHost.Build(Settings(_kafka.BootstrapServers), AddDependencies);
        await using var _ = app;
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };

        var readiness = await http.GetAsync("/healthz");
        var liveness = await http.GetAsync("/alive");
        var metrics = await http.GetStringAsync("/metrics");
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var grpcHealth = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal(HttpStatusCode.OK, readiness.StatusCode);
        Assert.Equal("Healthy", await readiness.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
        // ASP.NET Core's request metrics (the probes above) and the runtime's are both exported.
        Assert.Contains("http_server_request_duration_seconds_count", metrics);
        Assert.Contains("dotnet_gc_", metrics);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, grpcHealth.Status);
    }

    [Fact]
    public async Task An_unreachable_broker_fails_readiness_but_not_liveness()
    {
        var deadBroker = $"127.0.0.1:{FreeTcpPort.Next()}";
        var settings = Settings(deadBroker);
        settings["Kafka:HealthCheckTimeoutMs"] = "500";
        var (app, httpPort, grpcPort) = ServiceHost.Build(settings, AddDependencies);
        await using var _ = app;
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };

        var readiness = await http.GetAsync("/healthz");
        var liveness = await http.GetAsync("/alive");
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var grpcHealth = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(20));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness.StatusCode);
        Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, grpcHealth.Status);
    }

    [Fact]
    public async Task A_service_that_can_work_without_kafka_reports_an_unreachable_broker_as_degraded_and_stays_ready()
    {
        var settings = Settings($"127.0.0.1:{FreeTcpPort.Next()}");
        settings["Kafka:HealthCheckTimeoutMs"] = "500";
        var (app, httpPort, _) = ServiceHost.Build(settings, builder => builder.AddKafka(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded));
        await using var _ = app;
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };

        var readiness = await http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, readiness.StatusCode);
        Assert.Equal("Degraded", await readiness.Content.ReadAsStringAsync());
    }

    private Dictionary<string, string?> Settings(string kafkaBootstrap) => new()
    {
        ["ConnectionStrings:kafka"] = kafkaBootstrap,
        ["ConnectionStrings:redis"] = _redis.ConnectionString,
    };

    private static void AddDependencies(Microsoft.AspNetCore.Builder.WebApplicationBuilder builder)
    {
        builder.AddKafka();
        builder.AddRedis();
    }
}
