namespace MsSwift.Testing.Services;

/// <summary>What the services share in a test: a real Redis, a real Kafka-protocol broker, and a checkpoint directory.</summary>
public sealed class ServiceInfrastructure : IAsyncDisposable
{
    private ServiceInfrastructure(RedisServer redis, KafkaDevBroker kafka, string checkpointDirectory)
    {
        Redis = redis;
        Kafka = kafka;
        CheckpointDirectory = checkpointDirectory;
    }

    public RedisServer Redis { get; }

    public KafkaDevBroker Kafka { get; }

    public string CheckpointDirectory { get; }

    public static async Task<ServiceInfrastructure> StartAsync()
    {
        var checkpoints = Directory.CreateTempSubdirectory("msswift-checkpoints-").FullName;
        var redis = await RedisServer.StartAsync();
        var kafka = await KafkaDevBroker.StartAsync();
        return new ServiceInfrastructure(redis, kafka, checkpoints);
    }

    /// <summary>Connection strings as the AppHost passes them.</summary>
    public Dictionary<string, string?> ConnectionSettings() => new()
    {
        ["ConnectionStrings__redis"] = Redis.ConnectionString,
        ["ConnectionStrings__kafka"] = Kafka.BootstrapServers,
        // A dead replica's partitions move on after this (the dev broker's rejoin pitfall).
        ["Kafka__SessionTimeoutMs"] = "6000",
    };

    public async ValueTask DisposeAsync()
    {
        await Kafka.DisposeAsync();
        await Redis.DisposeAsync();
        Directory.Delete(CheckpointDirectory, recursive: true);
    }
}
