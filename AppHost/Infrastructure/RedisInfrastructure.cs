using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace MsSwift.AppHost.Infrastructure;

internal static class RedisInfrastructure
{
    /// <summary>Adds the <c>redis</c> resource in the shape <paramref name="mode"/> asks for.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddMsSwiftRedis(
        this IDistributedApplicationBuilder builder, InfrastructureMode mode, string name = "redis") => mode switch
        {
            InfrastructureMode.Local => builder.AddLocalRedis(name),
            InfrastructureMode.Containers => builder.AddRedis(name),
            _ => builder.AddConnectionString(name),
        };

    private static IResourceBuilder<LocalRedisResource> AddLocalRedis(this IDistributedApplicationBuilder builder, string name)
    {
        var resource = new LocalRedisResource(name, Path.GetTempPath());
        var healthCheckKey = $"{name}-ping";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new RedisPingHealthCheck(resource), failureStatus: null, tags: null));

        return builder.AddResource(resource)
            .WithEndpoint(name: LocalRedisResource.EndpointName, scheme: "tcp", env: "REDIS_PORT")
            .WithArgs(context =>
            {
                context.Args.Add("--port");
                context.Args.Add(resource.Endpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("--bind");
                context.Args.Add("127.0.0.1");
                // A development store: nothing written to disk, nothing left behind.
                context.Args.Add("--save");
                context.Args.Add("");
                context.Args.Add("--appendonly");
                context.Args.Add("no");
            })
            .WithHealthCheck(healthCheckKey);
    }

    private sealed class RedisPingHealthCheck(IResourceWithConnectionString redis) : IHealthCheck, IDisposable
    {
        private ConnectionMultiplexer? _connection;

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                _connection ??= await ConnectionMultiplexer.ConnectAsync(
                    await redis.GetConnectionStringAsync(cancellationToken) + ",abortConnect=false,connectTimeout=2000");
                await _connection.GetDatabase().PingAsync();
                return HealthCheckResult.Healthy();
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy(e.Message, e);
            }
        }

        public void Dispose() => _connection?.Dispose();
    }
}
