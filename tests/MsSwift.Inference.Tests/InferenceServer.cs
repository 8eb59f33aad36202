using System.Globalization;
using System.Reflection;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.ServiceDefaults.Kafka;
using MsSwift.Testing;
using static TorchSharp.torch;

namespace MsSwift.Inference.Tests;

/// <summary>
/// The real inference service as a process, with real Redis and Kafka-protocol broker processes,
/// serving two seeded versions of a small model (v1 in production, v2 loaded beside it) from a
/// temporary checkpoint store that the tests can also read.
/// </summary>
public sealed class InferenceServer : ChildProcess
{
    public static readonly GptConfig Config = new() { Layers = 2, Heads = 4, Width = 64, ContextLength = 128, VocabSize = 256 };

    private static readonly string ServicePath = typeof(InferenceServer).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "InferenceServicePath").Value!;

    private readonly RedisServer _redis;
    private readonly KafkaDevBroker _kafka;
    private readonly bool _ownsInfrastructure;

    private InferenceServer(string checkpoints, RedisServer redis, KafkaDevBroker kafka, int httpPort, int grpcPort, IReadOnlyDictionary<string, string> settings, bool ownsInfrastructure = true)
        : base("dotnet", ["exec", ServicePath], ServiceEnvironment(checkpoints, redis, kafka, httpPort, grpcPort, settings))
    {
        _ownsInfrastructure = ownsInfrastructure;
        CheckpointDirectory = checkpoints;
        _redis = redis;
        _kafka = kafka;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Client = new ModelService.ModelServiceClient(Channel);
    }

    public string CheckpointDirectory { get; }

    public string KafkaBootstrapServers => _kafka.BootstrapServers;

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public GrpcChannel Channel { get; }

    public ModelService.ModelServiceClient Client { get; }

    /// <summary>Writes the test checkpoints, starts Redis, the broker and the service, and waits for it to listen.</summary>
    public static async Task<InferenceServer> StartAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var checkpoints = Directory.CreateTempSubdirectory("msswift-inference-").FullName;
        await WriteCheckpointAsync(checkpoints, "tiny/v1/model.safetensors", seed: 1);
        await WriteCheckpointAsync(checkpoints, "tiny/v2/model.safetensors", seed: 2);
        var redis = await RedisServer.StartAsync();
        var kafka = await KafkaDevBroker.StartAsync();
        var httpPort = FreeTcpPort.Next();
        var server = new InferenceServer(checkpoints, redis, kafka, httpPort, FreeTcpPort.Next(), settings ?? new Dictionary<string, string>());
        return await ListeningAsync(server, httpPort, TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts a server and waits until it serves (fails the test with its output if it never does).</summary>
    public static async Task<InferenceServer> StartReadyAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var server = await StartAsync(settings);
        var ready = await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        Xunit.Assert.True(ready.IsSuccessStatusCode, server.Output);
        return server;
    }

    /// <summary>Produces messages to the server's broker as a client would (traced, keyed).</summary>
    public async Task ProduceAsync(string topic, IEnumerable<(string Key, byte[] Value)> messages)
    {
        using var producer = new KafkaProducer(
            Options.Create(new KafkaOptions { BootstrapServers = KafkaBootstrapServers, ClientId = "inference-tests" }),
            NullLogger<KafkaProducer>.Instance);
        foreach (var (key, value) in messages)
        {
            await producer.ProduceAsync(topic, key, value);
        }
    }

    /// <summary>Another replica on the same Redis, broker and checkpoints; disposing it leaves those running.</summary>
    public async Task<InferenceServer> StartReplicaAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var httpPort = FreeTcpPort.Next();
        var replica = new InferenceServer(CheckpointDirectory, _redis, _kafka, httpPort, FreeTcpPort.Next(), settings ?? new Dictionary<string, string>(), ownsInfrastructure: false);
        return await ListeningAsync(replica, httpPort, TimeSpan.FromSeconds(60));
    }

    /// <summary>Ends the process at once, as a crash would (no graceful shutdown).</summary>
    public void Kill() => KillNow();

    /// <summary>Waits until <c>/healthz</c> reports ready (a model is loaded).</summary>
    public async Task<HttpResponseMessage> WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}") };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await http.GetAsync("/healthz");
            if (response.IsSuccessStatusCode || DateTime.UtcNow > deadline)
            {
                return response;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The checkpoint's model loaded in this (test) process, to compute expected outputs.</summary>
    public Task<LoadedModel> LoadAsync(string checkpoint) =>
        GptCheckpoint.LoadAsync(new LocalDirectoryCheckpointStore(CheckpointDirectory), checkpoint, CPU);

    public override async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await base.DisposeAsync();
        if (_ownsInfrastructure)
        {
            await _kafka.DisposeAsync();
            await _redis.DisposeAsync();
            Directory.Delete(CheckpointDirectory, recursive: true);
        }
    }

    /// <summary>A seeded model with weights scaled up so greedy choices are clear-cut.</summary>
    public static async Task WriteCheckpointAsync(string root, string name, long seed)
    {
        manual_seed(seed);
        using var model = new GptModel(Config);
        using (no_grad())
        {
            foreach (var parameter in model.parameters().Where(parameter => parameter.dim() == 2))
            {
                parameter.mul_(8);
            }
        }

        await GptCheckpoint.SaveAsync(new LocalDirectoryCheckpointStore(root), name, model, "byte");
    }

    private static Dictionary<string, string?> ServiceEnvironment(
        string checkpoints, RedisServer redis, KafkaDevBroker kafka, int httpPort, int grpcPort, IReadOnlyDictionary<string, string> settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["ConnectionStrings__kafka"] = kafka.BootstrapServers,
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpcPort.ToString(CultureInfo.InvariantCulture)}",
            ["Kestrel__Endpoints__Grpc__Protocols"] = "Http2",
            ["Inference__CheckpointDirectory"] = checkpoints,
            ["Inference__DefaultModel"] = "tiny",
            ["Inference__Models__0__Name"] = "tiny",
            ["Inference__Models__0__Version"] = "v1",
            ["Inference__Models__0__Checkpoint"] = "tiny/v1/model.safetensors",
            ["Inference__Models__0__Production"] = "true",
            ["Inference__Models__1__Name"] = "tiny",
            ["Inference__Models__1__Version"] = "v2",
            ["Inference__Models__1__Checkpoint"] = "tiny/v2/model.safetensors",
            ["Inference__MaxBatchSize"] = "8",
            ["Inference__MaxQueueSize"] = "64",
            ["Torch__IntraOpThreads"] = "1",
            // A dead replica's partitions move on after this (the dev broker's rejoin pitfall).
            ["Kafka__SessionTimeoutMs"] = "6000",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return environment;
    }
}
