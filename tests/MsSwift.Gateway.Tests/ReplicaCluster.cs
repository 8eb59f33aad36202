using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Testing.Services;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// Real Redis, broker and registry (model <c>tiny</c>: v1 in production, v2 registered) from
/// which tests start sets of real inference replicas behind a real gateway, as
/// <c>Inference:Replicas</c> runs them: every replica under the one service-discovery name.
/// </summary>
public sealed partial class ReplicaCluster : IAsyncLifetime
{
    public static readonly TestApiKey Key = new("load", "replica-key-0123456789abcdef", ["admin"], RequestsPerSecond: 1_000_000, Burst: 1_000_000);

    public ServiceInfrastructure Infrastructure { get; private set; } = null!;

    public RegistryServer Registry { get; private set; } = null!;

    public static Metadata Credentials => [new("authorization", $"Bearer {Key.Key}")];

    public async Task InitializeAsync()
    {
        Infrastructure = await ServiceInfrastructure.StartAsync();
        foreach (var (version, seed) in new[] { ("v1", 1L), ("v2", 2L) })
        {
            await InferenceServer.WriteCheckpointAsync(Infrastructure.CheckpointDirectory, $"tiny/{version}/model.safetensors", seed);
        }

        Registry = await RegistryServer.StartReadyAsync(Infrastructure);
        foreach (var version in new[] { "v1", "v2" })
        {
            await Registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "tiny", Version = version, Checkpoint = $"tiny/{version}/model.safetensors" });
        }

        await Registry.Admin.PromoteAsync(new ChangeVersionRequest { Model = "tiny", Version = "v1" });
    }

    /// <summary>
    /// <paramref name="count"/> ready replicas (each with <paramref name="replicaSettings"/>) and a
    /// gateway in front of them whose active health checks run every half second.
    /// </summary>
    public async Task<ReplicaSet> StartAsync(int count, IReadOnlyDictionary<string, string>? replicaSettings = null)
    {
        var replicas = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => InferenceServer.StartAsync(Infrastructure, replicaSettings)));
        var set = new ReplicaSet(replicas);
        try
        {
            await Task.WhenAll(replicas.Select(replica => replica.WaitUntilReadyAsync(TimeSpan.FromSeconds(90))));
            var often = new Dictionary<string, string?>();
            foreach (var cluster in new[] { "inference-grpc", "inference-http" })
            {
                often[$"ReverseProxy__Clusters__{cluster}__HealthCheck__Active__Interval"] = "00:00:00.500";
            }

            set.Gateway = await GatewayServer.StartReadyAsync(Infrastructure, replicas, Registry, [Key], often);
            return set;
        }
        catch
        {
            await set.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await Registry.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }

    /// <summary>The Predict calls <paramref name="replica"/> has answered successfully over gRPC, from its own metrics.</summary>
    public static async Task<long> AnsweredAsync(InferenceServer replica)
    {
        using var http = new HttpClient { BaseAddress = replica.HttpAddress };
        var scraped = await http.GetStringAsync("/metrics");
        return OkGrpcRequests().Matches(scraped).Sum(match => long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex("""^msswift_inference_requests_total\{(?=[^}]*outcome="ok")(?=[^}]*transport="grpc")[^}]*\} (\d+)""", RegexOptions.Multiline)]
    private static partial Regex OkGrpcRequests();
}

/// <summary>Inference replicas and the gateway in front of them; disposing stops them all.</summary>
public sealed class ReplicaSet(IReadOnlyList<InferenceServer> replicas) : IAsyncDisposable
{
    public IReadOnlyList<InferenceServer> Replicas { get; } = replicas;

    public GatewayServer Gateway { get; internal set; } = null!;

    public ModelService.ModelServiceClient Models => new(Gateway.Channel);

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}
