using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MsSwift.ServiceDefaults.Redis;

namespace Microsoft.Extensions.Hosting;

public static class RedisExtensions
{
    public const string ConnectionStringName = "redis";
    public const string ConnectionStringKey = "ConnectionStrings:" + ConnectionStringName;

    /// <summary>
    /// Registers the Redis connection (<c>IConnectionMultiplexer</c> with health check and tracing,
    /// from Aspire's client integration) and <see cref="RedisLock"/>. A missing
    /// <c>ConnectionStrings:redis</c> stops the service at start with a message naming the key.
    /// </summary>
    public static TBuilder AddRedis<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<RedisConnectionOptions>()
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(ConnectionStringName) ?? "")
            .Validate(options => !string.IsNullOrWhiteSpace(options.ConnectionString),
                $"{ConnectionStringKey} is missing: set it to the Redis endpoint (host:port[,options]); the AppHost sets it through WithReference(redis)")
            .ValidateOnStart();

        // Aspire's integration reads the same key; give it a placeholder when absent so that the
        // validation above, not a half-built multiplexer, is what reports the problem.
        builder.AddRedisClient(ConnectionStringName, settings =>
        {
            if (string.IsNullOrWhiteSpace(settings.ConnectionString))
            {
                settings.ConnectionString = "unconfigured:6379,abortConnect=false";
            }
        });

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<RedisLock>();
        builder.Services.Configure<Grpc.AspNetCore.Server.GrpcServiceOptions>(RedisUnavailable.AddTo);
        return builder;
    }
}

/// <summary>The validated Redis connection string.</summary>
public sealed class RedisConnectionOptions
{
    public string ConnectionString { get; set; } = "";
}
