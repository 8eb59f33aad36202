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

    public RedisServer Redis { get; private set; }

    public KafkaDevBroker Kafka { get; }

    public string CheckpointDirectory { get; }

    /// <param name="persistentRedis">Redis with an append-only file, as the AppHost runs it, so it can restart keeping its data.</param>
    public static async Task<ServiceInfrastructure> StartAsync(bool persistentRedis = false)
    {
        var checkpoints = Directory.CreateTempSubdirectory("msswift-checkpoints-").FullName;
        var redis = persistentRedis ? await RedisServer.StartPersistentAsync() : await RedisServer.StartAsync();
        var kafka = await KafkaDevBroker.StartAsync();
        return new ServiceInfrastructure(redis, kafka, checkpoints);
    }

    /// <summary>Restarts Redis on the same port; the services' clients reconnect by themselves.</summary>
    public async Task RestartRedisAsync(RedisRestart restart) => Redis = await Redis.RestartAsync(restart);

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
