using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Testing.Services;

namespace MsSwift.Registry.Tests;

/// <summary>Two registry replicas on one real Redis and broker, with two checkpoints in the shared store.</summary>
public sealed class RegistryCluster : IAsyncLifetime
{
    public ServiceInfrastructure Infrastructure { get; private set; } = null!;

    public RegistryServer First { get; private set; } = null!;

    public RegistryServer Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Infrastructure = await ServiceInfrastructure.StartAsync();
        await InferenceServer.WriteCheckpointAsync(Infrastructure.CheckpointDirectory, "tiny/v1/model.safetensors", seed: 1);
        await InferenceServer.WriteCheckpointAsync(Infrastructure.CheckpointDirectory, "tiny/v2/model.safetensors", seed: 2);
        First = await RegistryServer.StartReadyAsync(Infrastructure);
        Second = await RegistryServer.StartReadyAsync(Infrastructure);
    }

    /// <summary>Every model event published for <paramref name="model"/>, in order, until <paramref name="count"/> arrived.</summary>
    public List<ModelEvent> ReadEvents(string model, int count, TimeSpan timeout) =>
        Infrastructure.Kafka.ReadMessages(KafkaTopics.ModelEvents, model, values => values.Count >= count, timeout)
            .Select(message => ModelEvent.Parser.ParseFrom(message.Value)).ToList();

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await Infrastructure.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class RegistryClusterGroup : ICollectionFixture<RegistryCluster>
{
    public const string Name = "Registry cluster";
}
