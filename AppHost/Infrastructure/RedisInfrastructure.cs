using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace MsSwift.AppHost.Infrastructure;

/// <summary>
/// Redis as the product needs it: acknowledged writes survive a restart. Local and container
/// Redis keep an append-only file synced every second (<c>appendfsync everysec</c>: a crash loses
/// at most the last second, which the fencing tokens of <c>RedisLock</c> are built to survive).
/// </summary>
internal static class RedisInfrastructure
{
    public const string DataDirectoryKey = "Redis:DataDirectory";

    /// <summary>The append-only file settings, as <c>redis-server</c> arguments.</summary>
    public static readonly IReadOnlyList<string> AppendOnlyArguments = ["--appendonly", "yes", "--appendfsync", "everysec"];

    /// <summary>Adds the <c>redis</c> resource in the shape <paramref name="mode"/> asks for.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddMsSwiftRedis(
        this IDistributedApplicationBuilder builder, InfrastructureMode mode, string name = "redis") => mode switch
        {
            InfrastructureMode.Local => builder.AddLocalRedis(name),
            InfrastructureMode.Containers => builder.AddRedisContainer(name),
            _ => builder.AddConnectionString(name),
        };

    /// <summary>
    /// <c>redis-server</c> as a process, persisting to <c>Redis:DataDirectory</c> (default
    /// <c>.data/redis</c> at the repository root), so a restarted Redis, or the next run, finds
    /// what was acknowledged.
    /// </summary>
    private static IResourceBuilder<LocalRedisResource> AddLocalRedis(this IDistributedApplicationBuilder builder, string name)
    {
        var dataDirectory = Path.GetFullPath(builder.Configuration[DataDirectoryKey] ?? Path.Combine(builder.AppHostDirectory, "..", ".data", "redis"));
        var resource = new LocalRedisResource(name, dataDirectory);
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
                context.Args.Add("--dir");
                context.Args.Add(dataDirectory);
                // The append-only file alone; no RDB snapshots on top.
                context.Args.Add("--save");
                context.Args.Add("");
                foreach (var argument in AppendOnlyArguments)
                {
                    context.Args.Add(argument);
                }
            })
            .OnBeforeResourceStarted((_, _, _) =>
            {
                Directory.CreateDirectory(dataDirectory);
                return Task.CompletedTask;
            })
            .WithHealthCheck(healthCheckKey);
    }

    /// <summary>
    /// The Redis container on a named volume (<c>/data</c>), with Aspire's RDB snapshots and the
    /// append-only file; published, the volume becomes the StatefulSet's persistent claim.
    /// </summary>
    private static IResourceBuilder<RedisResource> AddRedisContainer(this IDistributedApplicationBuilder builder, string name) =>
        // A fixed volume name: the generated one hashes the AppHost's path, so the manifest would
        // differ between checkouts.
        builder.AddRedis(name).WithDataVolume($"msswift-{name}-data").WithArgs(context =>
        {
            // Aspire runs the image as `/bin/sh -c "redis-server ..."`: arguments appended after
            // that would go to the shell, not to Redis, so the flags join the command itself.
            var command = context.Args.OfType<string>().Select((argument, index) => (argument, index))
                .SingleOrDefault(entry => entry.argument.StartsWith("redis-server", StringComparison.Ordinal));
            if (command.argument is null)
            {
                throw new DistributedApplicationException($"the {name} container has no redis-server command to add the append-only file settings to; Aspire.Hosting.Redis changed its arguments");
            }

            context.Args[command.index] = $"{command.argument} {string.Join(' ', AppendOnlyArguments)}";
        });

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
