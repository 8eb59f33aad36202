using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MsSwift.Contracts;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Testing;

namespace MsSwift.Inference.Tests;

/// <summary>Replicas converge on the registry's state: from the registry itself, and from events applied in revision order.</summary>
public sealed class ModelConvergenceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_replica_that_finds_no_model_events_becomes_ready_from_the_registry()
    {
        await using var infrastructure = await ServiceInfrastructure.StartAsync();
        await InferenceServer.WriteCheckpointAsync(infrastructure.CheckpointDirectory, "tiny/v3/model.safetensors", seed: 3);
        await using var registry = await RegistryServer.StartReadyAsync(infrastructure);
        await registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "tiny", Version = "v3", Checkpoint = "tiny/v3/model.safetensors" });
        await registry.Admin.PromoteAsync(new ChangeVersionRequest { Model = "tiny", Version = "v3" });
        // Its own, empty broker: the registry's events never reach it, as after the topic's retention expired.
        await using var emptyBroker = await KafkaDevBroker.StartAsync();

        await using var server = await InferenceServer.StartAsync(infrastructure, new Dictionary<string, string>
        {
            ["ConnectionStrings__kafka"] = emptyBroker.BootstrapServers,
            ["Inference__RegistryAddress"] = registry.GrpcAddress.ToString(),
            // The configured versions cannot load: only the registry can make it ready.
            ["Inference__Models__0__Checkpoint"] = "tiny/v7/missing.safetensors",
            ["Inference__Models__1__Checkpoint"] = "tiny/v8/missing.safetensors",
        });

        var ready = await server.WaitUntilReadyAsync(Timeout);
        Assert.True(ready.IsSuccessStatusCode, await ready.Content.ReadAsStringAsync());
        var response = await server.Client.PredictAsync(Request("from the registry"), deadline: DateTime.UtcNow + Timeout);
        Assert.Equal("v3", response.ModelVersion);
    }

    [Fact]
    public async Task An_event_older_than_the_applied_revision_is_ignored()
    {
        await using var server = await InferenceServer.StartReadyAsync();
        await InferenceServer.WriteCheckpointAsync(server.CheckpointDirectory, "tiny/v3/model.safetensors", seed: 3);
        await InferenceServer.WriteCheckpointAsync(server.CheckpointDirectory, "tiny/v4/model.safetensors", seed: 4);

        await PublishAsync(server, ModelEventType.Promoted, "v3", revision: 7);
        Assert.True(await Poll.UntilAsync(async () => (await ProductionAsync(server)) == "v3", Timeout), "v3 was never promoted");
        // The outbox sweeping an old PROMOTED again, after the newer one was applied.
        await PublishAsync(server, ModelEventType.Promoted, "v2", revision: 5);
        // A newer event behind it on the same partition: once it shows, the stale one was handled.
        await PublishAsync(server, ModelEventType.CanarySet, "v4", revision: 8, canaryPercent: 10);
        Assert.True(await Poll.UntilAsync(async () => await ServesAsync(server, "v4"), Timeout), "the canary after the stale event was never applied");

        Assert.Equal("v3", await ProductionAsync(server));
    }

    private static async Task PublishAsync(InferenceServer server, ModelEventType type, string version, long revision, int canaryPercent = 0)
    {
        var modelEvent = new ModelEvent
        {
            EventId = Guid.NewGuid().ToString("N"),
            Type = type,
            Model = "tiny",
            Version = version,
            Checkpoint = $"tiny/{version}/model.safetensors",
            CanaryPercent = canaryPercent,
            Revision = revision,
            OccurredAt = Timestamp.FromDateTime(DateTime.UtcNow),
        };
        await server.ProduceAsync(KafkaTopics.ModelEvents, [("tiny", modelEvent.ToByteArray())]);
    }

    private static async Task<string> ProductionAsync(InferenceServer server) =>
        (await server.Client.PredictAsync(Request("which"), deadline: DateTime.UtcNow + Timeout)).ModelVersion;

    private static async Task<bool> ServesAsync(InferenceServer server, string version)
    {
        var request = Request("pinned");
        request.ModelVersion = version;
        try
        {
            await server.Client.PredictAsync(request, deadline: DateTime.UtcNow + Timeout);
            return true;
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            return false;
        }
    }

    private static PredictRequest Request(string prompt) => new()
    {
        InputData = ByteString.CopyFromUtf8(prompt),
        Parameters = new GenerationParameters { MaxNewTokens = 1 },
    };
}
