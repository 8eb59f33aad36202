using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.ServiceDiscovery;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// After service discovery, turns each destination whose host is one of
/// <see cref="GatewayOptions.ReplicaHostNames"/> into one destination per address the name
/// resolves to (as YARP's own DNS resolver does, which cannot be combined with service discovery),
/// re-resolved every <see cref="GatewayOptions.ReplicaRefreshSeconds"/>. The Host header stays the
/// service's name. If a name cannot be resolved, its destination is kept as it is.
/// </summary>
internal sealed partial class ReplicaAddressResolver(IDestinationResolver serviceDiscovery, IOptions<GatewayOptions> options, ILogger<ReplicaAddressResolver> logger)
    : IDestinationResolver
{
    public async ValueTask<ResolvedDestinationCollection> ResolveDestinationsAsync(IReadOnlyDictionary<string, DestinationConfig> destinations, CancellationToken cancellationToken)
    {
        var discovered = await serviceDiscovery.ResolveDestinationsAsync(destinations, cancellationToken);
        var replicaHosts = options.Value.ReplicaHostNames;
        if (replicaHosts.Count == 0)
        {
            return discovered;
        }

        var expanded = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, destination) in discovered.Destinations)
        {
            var address = new Uri(destination.Address);
            if (!replicaHosts.Contains(address.DnsSafeHost, StringComparer.OrdinalIgnoreCase))
            {
                expanded[name] = destination;
                continue;
            }

            IPAddress[] replicas;
            try
            {
                replicas = await Dns.GetHostAddressesAsync(address.DnsSafeHost, cancellationToken);
            }
            catch (System.Net.Sockets.SocketException error)
            {
                LogUnresolved(logger, address.DnsSafeHost, error.Message);
                expanded[name] = destination;
                continue;
            }

            foreach (var replica in replicas)
            {
                expanded[$"{name}[{replica}]"] = destination with
                {
                    Address = new UriBuilder(address) { Host = replica.ToString() }.Uri.ToString(),
                    Health = destination.Health is { Length: > 0 } health ? new UriBuilder(health) { Host = replica.ToString() }.Uri.ToString() : null,
                    Host = destination.Host is { Length: > 0 } host ? host : address.Authority,
                };
            }
        }

        var refresh = new CancellationChangeToken(new CancellationTokenSource(TimeSpan.FromSeconds(options.Value.ReplicaRefreshSeconds)).Token);
        var changeToken = discovered.ChangeToken is { } inner ? new CompositeChangeToken([inner, refresh]) : (IChangeToken)refresh;
        return new ResolvedDestinationCollection(expanded, changeToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not resolve the replicas of {Host} ({Reason}); keeping it as one destination")]
    private static partial void LogUnresolved(ILogger logger, string host, string reason);
}

internal static class ReplicaAddressResolverExtensions
{
    /// <summary>Wraps the destination resolver registered so far (service discovery's) in a <see cref="ReplicaAddressResolver"/>.</summary>
    public static IReverseProxyBuilder AddReplicaAddressResolver(this IReverseProxyBuilder proxy)
    {
        var services = proxy.Services;
        var inner = services.Last(descriptor => descriptor.ServiceType == typeof(IDestinationResolver));
        services.Remove(inner);
        services.AddSingleton<IDestinationResolver>(provider => ActivatorUtilities.CreateInstance<ReplicaAddressResolver>(provider, Create(provider, inner)));
        return proxy;
    }

    private static IDestinationResolver Create(IServiceProvider provider, ServiceDescriptor descriptor) => (IDestinationResolver)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(provider)
        ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!));
}
