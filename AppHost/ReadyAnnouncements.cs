using Microsoft.Extensions.DependencyInjection;
using MsSwift.Contracts;
using Microsoft.Extensions.Logging;

namespace MsSwift.AppHost;

/// <summary>Prints where things are once they are ready, so a developer knows where to point clients.</summary>
internal static partial class ReadyAnnouncements
{
    /// <summary>Logs the connection string of <paramref name="builder"/>'s resource once it is healthy.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AnnounceWhenReady(
        this IResourceBuilder<IResourceWithConnectionString> builder, string hint)
    {
        builder.ApplicationBuilder.Eventing.Subscribe<ResourceReadyEvent>(builder.Resource, async (@event, cancellationToken) =>
        {
            var address = await builder.Resource.GetConnectionStringAsync(cancellationToken) ?? "(none)";
            var command = string.Format(System.Globalization.CultureInfo.InvariantCulture, hint, address);
            var logger = Logger(@event.Services);
            LogInfrastructureReady(logger, builder.Resource.Name, address, command);
        });
        return builder;
    }

    /// <summary>
    /// Logs the gateway's HTTP and gRPC addresses and the development API key once it is healthy,
    /// and writes them to the CLI's connection file (<c>Cli:ConnectionFile</c>, default
    /// <see cref="LocalClusterFile.DefaultPath"/>), so <c>msswift</c> needs no flags.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AnnounceGatewayWhenReady(this IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ParameterResource> apiKey)
    {
        gateway.ApplicationBuilder.Eventing.Subscribe<ResourceReadyEvent>(gateway.Resource, async (@event, cancellationToken) =>
        {
            var httpAddress = gateway.GetEndpoint(ServiceResources.HttpEndpoint).Url;
            var grpcAddress = gateway.GetEndpoint(ServiceResources.GrpcEndpoint).Url;
            var key = await apiKey.Resource.GetValueAsync(cancellationToken) ?? "(none)";
            var logger = Logger(@event.Services);
            var configuration = gateway.ApplicationBuilder.Configuration;
            // Unset: the default; empty: write none (test runs must not replace a developer's file).
            var file = configuration["Cli:ConnectionFile"] ?? LocalClusterFile.DefaultPath;
            LogGatewayReady(logger, httpAddress, grpcAddress, key);
            if (file.Length > 0)
            {
                LocalClusterFile.Write(file, new LocalClusterConnection(httpAddress, grpcAddress, key));
                LogConnectionFile(logger, file);
            }
        });
        return gateway;
    }

    private static ILogger Logger(IServiceProvider services) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger("MsSwift.AppHost");

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resource} ready at {Address} (try: {Command})")]
    private static partial void LogInfrastructureReady(ILogger logger, string resource, string address, string command);

    [LoggerMessage(Level = LogLevel.Information, Message = "Gateway ready: HTTP {HttpAddress} (OpenAI-compatible API under /v1, registry under /registry), gRPC {GrpcAddress} (h2c); development API key (all scopes): {ApiKey} (send 'Authorization: Bearer <key>')")]
    private static partial void LogGatewayReady(ILogger logger, string httpAddress, string grpcAddress, string apiKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "msswift CLI connection written to {File} (try: msswift models list)")]
    private static partial void LogConnectionFile(ILogger logger, string file);
}
