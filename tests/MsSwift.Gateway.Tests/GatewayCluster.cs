using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Testing.Services;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// The real gateway in front of a real inference process and a real registry process, on real
/// Redis and broker. The registry knows model <c>tiny</c> v1 (production), v2 and v3; inference
/// starts with v1 serving and v2 loaded. Keys: admin, a user key (inference and registry reads),
/// a slow key (1 request/s, burst 2) and a load key (admin, practically unlimited). An address may
/// present <see cref="InvalidKeyBurst"/> invalid keys at once, then one per <see cref="InvalidKeySeconds"/>:
/// enough for the tests that send a few wrong keys from 127.0.0.1, which all share one bucket.
/// </summary>
public sealed class GatewayCluster : IAsyncLifetime
{
    public static readonly TestApiKey AdminKey = new("ops", "admin-key-0123456789abcdef", ["admin"]);
    public static readonly TestApiKey UserKey = new("app", "user-key-0123456789abcdef", ["inference", "registry.read"]);
    public static readonly TestApiKey SlowKey = new("slow", "slow-key-0123456789abcdef", ["inference"], RequestsPerSecond: 1, Burst: 2);

    /// <summary>For load: its limit is far above what a test can send, so it measures the cluster, not the limiter.</summary>
    public static readonly TestApiKey LoadKey = new("load", "load-key-0123456789abcdef", ["admin"], RequestsPerSecond: 1_000_000, Burst: 1_000_000);

    /// <summary>The gateway's body limit in these tests.</summary>
    public const int MaxBodyBytes = 4096;

    public const int InvalidKeyBurst = 20;
    public const int InvalidKeySeconds = 5;

    public ServiceInfrastructure Infrastructure { get; private set; } = null!;

    public InferenceServer Inference { get; private set; } = null!;

    public RegistryServer Registry { get; private set; } = null!;

    public GatewayServer Gateway { get; private set; } = null!;

    /// <summary>The gateway's gRPC port.</summary>
    public GrpcChannel GrpcChannel => Gateway.Channel;

    public async Task InitializeAsync()
    {
        Infrastructure = await ServiceInfrastructure.StartAsync();
        Inference = await InferenceServer.StartAsync(Infrastructure, settings: null);
        await InferenceServer.WriteCheckpointAsync(Infrastructure.CheckpointDirectory, "tiny/v3/model.safetensors", seed: 3);
        await Inference.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        Registry = await RegistryServer.StartReadyAsync(Infrastructure);
        foreach (var version in new[] { "v1", "v2", "v3" })
        {
            await Registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "tiny", Version = version, Checkpoint = $"tiny/{version}/model.safetensors" });
        }

        await Registry.Admin.PromoteAsync(new ChangeVersionRequest { Model = "tiny", Version = "v1" });
        Gateway = await GatewayServer.StartReadyAsync(Infrastructure, [Inference], Registry, [AdminKey, UserKey, SlowKey, LoadKey],
            new Dictionary<string, string?>
            {
                ["Gateway__MaxRequestBodyBytes"] = MaxBodyBytes.ToString(CultureInfo.InvariantCulture),
                ["Gateway__InvalidKeyLimit__Burst"] = InvalidKeyBurst.ToString(CultureInfo.InvariantCulture),
                ["Gateway__InvalidKeyLimit__PerSecond"] = (1.0 / InvalidKeySeconds).ToString(CultureInfo.InvariantCulture),
            });
    }

    /// <param name="key">The key it sends, if any.</param>
    /// <param name="from">The loopback address it connects from (any of 127.0.0.0/8), to be another client address.</param>
    public HttpClient Http(TestApiKey? key, IPAddress? from = null)
    {
        var http = new HttpClient(From(from ?? IPAddress.Loopback)) { BaseAddress = Gateway.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", key.Key);
        }

        return http;
    }

    /// <summary>A channel to the gateway's gRPC port from another loopback address; the caller disposes it.</summary>
    public GrpcChannel GrpcChannelFrom(IPAddress from) =>
        Grpc.Net.Client.GrpcChannel.ForAddress(Gateway.GrpcAddress, new GrpcChannelOptions { HttpHandler = From(from) });

    public static Metadata Credentials(TestApiKey? key) => key is null ? [] : [new("authorization", $"Bearer {key.Key}")];

    public ModelService.ModelServiceClient Models => new(GrpcChannel);

    /// <summary>A handler whose connections leave from <paramref name="local"/>.</summary>
    private static SocketsHttpHandler From(IPAddress local) => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Registry.DisposeAsync();
        await Inference.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayClusterGroup : ICollectionFixture<GatewayCluster>
{
    public const string Name = "Gateway cluster";
}
