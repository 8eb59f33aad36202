using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using MsSwift.Gateway.Routing;
using MsSwift.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.ServiceDiscovery;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// A replica host name (a Kubernetes headless Service) becomes one destination per address it
/// resolves to, here with the machine's real resolver on <c>localhost</c>; other hosts pass through.
/// </summary>
public sealed class ReplicaAddressResolverTests
{
    [Fact]
    public async Task A_replica_host_becomes_one_destination_per_address_keeping_the_service_name_as_host_and_others_pass_through()
    {
        var discovered = new Dictionary<string, DestinationConfig>
        {
            ["inference"] = new() { Address = "http://localhost:8081/", Health = "http://localhost:8080/" },
            ["registry"] = new() { Address = "http://registry:8081/" },
        };
        var resolver = Resolver(discovered, ["localhost"]);

        var resolved = await resolver.ResolveDestinationsAsync(discovered, CancellationToken.None);

        var addresses = await Dns.GetHostAddressesAsync("localhost");
        Assert.Equal(addresses.Length + 1, resolved.Destinations.Count);
        Assert.Equal("http://registry:8081/", resolved.Destinations["registry"].Address);
        foreach (var address in addresses)
        {
            var replica = resolved.Destinations[$"inference[{address}]"];
            var host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            Assert.Equal($"http://{host}:8081/", replica.Address);
            Assert.Equal($"http://{host}:8080/", replica.Health);
            Assert.Equal("localhost:8081", replica.Host);
        }

        // Re-resolved periodically, so replicas that come and go are followed.
        Assert.NotNull(resolved.ChangeToken);
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(resolved.ChangeToken!.HasChanged), TimeSpan.FromSeconds(10)), "the resolution never expired");
    }

    [Fact]
    public async Task Without_replica_hosts_service_discoverys_answer_is_returned_unchanged()
    {
        var discovered = new Dictionary<string, DestinationConfig> { ["inference"] = new() { Address = "http://localhost:8081/" } };

        var resolved = await Resolver(discovered, []).ResolveDestinationsAsync(discovered, CancellationToken.None);

        Assert.Equal("http://localhost:8081/", Assert.Single(resolved.Destinations).Value.Address);
    }

    [Fact]
    public async Task A_replica_host_that_does_not_resolve_is_kept_as_one_destination()
    {
        var discovered = new Dictionary<string, DestinationConfig> { ["inference"] = new() { Address = "http://no-such-host.invalid:8081/" } };

        var resolved = await Resolver(discovered, ["no-such-host.invalid"]).ResolveDestinationsAsync(discovered, CancellationToken.None);

        Assert.Equal("http://no-such-host.invalid:8081/", Assert.Single(resolved.Destinations).Value.Address);
    }

    private static ReplicaAddressResolver Resolver(Dictionary<string, DestinationConfig> discovered, List<string> replicaHosts) =>
        new(new FixedResolver(discovered), Options.Create(new GatewayOptions { ReplicaHostNames = replicaHosts, ReplicaRefreshSeconds = 0.5 }), NullLogger<ReplicaAddressResolver>.Instance);

    /// <summary>Stands in for service discovery, which is not under test here.</summary>
    private sealed class FixedResolver(IReadOnlyDictionary<string, DestinationConfig> destinations) : IDestinationResolver
    {
        public ValueTask<ResolvedDestinationCollection> ResolveDestinationsAsync(IReadOnlyDictionary<string, DestinationConfig> requested, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new ResolvedDestinationCollection(destinations, new CancellationChangeToken(CancellationToken.None)));
    }
}
