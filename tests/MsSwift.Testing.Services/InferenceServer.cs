using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.ServiceDefaults.Kafka;
using static TorchSharp.torch;

namespace MsSwift.Testing.Services;

/// <summary>
/// The real inference service as a process, with real Redis and Kafka-protocol broker processes,
/// serving two seeded versions of a small model (v1 in production, v2 loaded beside it) from a
/// temporary checkpoint store that the tests can also read.
/// </summary>
public sealed class InferenceServer : ServiceProcess
{
    public static readonly GptConfig Config = new() { Layers = 2, Heads = 4, Width = 64, ContextLength = 128, VocabSize = 256 };

    private bool _ownsInfrastructure;

    private InferenceServer(ServiceInfrastructure infrastructure, int httpPort, IReadOnlyDictionary<string, string> settings, bool ownsInfrastructure = true)
        : base("InferenceServicePath", httpPort, FreeTcpPort.Next(), ServiceEnvironment(infrastructure, settings))
    {
        _ownsInfrastructure = ownsInfrastructure;
        Infrastructure = infrastructure;
        Client = new ModelService.ModelServiceClient(Channel);
    }

    /// <summary>The Redis, broker and checkpoint store this server uses (shared with its replicas).</summary>
    public ServiceInfrastructure Infrastructure { get; }

    public string CheckpointDirectory => Infrastructure.CheckpointDirectory;

    public string KafkaBootstrapServers => Infrastructure.Kafka.BootstrapServers;

    public ModelService.ModelServiceClient Client { get; }

    /// <summary>Writes the test checkpoints, starts Redis, the broker and the service, and waits for it to listen.</summary>
    public static async Task<InferenceServer> StartAsync(IReadOnlyDictionary<string, string>? settings = null) =>
        await StartAsync(await ServiceInfrastructure.StartAsync(), settings, ownsInfrastructure: true);

    /// <summary>Starts a server on existing infrastructure (which it leaves running) and waits for it to listen.</summary>
    public static async Task<InferenceServer> StartAsync(ServiceInfrastructure infrastructure, IReadOnlyDictionary<string, string>? settings, bool ownsInfrastructure = false)
    {
        await WriteCheckpointsAsync(infrastructure.CheckpointDirectory);
        // Owned only once it listens: a start that failed (and is retried) must not take the infrastructure down with it.
        var started = await WithFreshPortsOnClashAsync(() =>
        {
            var httpPort = FreeTcpPort.Next();
            var server = new InferenceServer(infrastructure, httpPort, settings ?? new Dictionary<string, string>(), ownsInfrastructure: false);
            return ListeningAsync(server, httpPort, TimeSpan.FromSeconds(60));
        });
        started._ownsInfrastructure = ownsInfrastructure;
        return started;
    }

    /// <summary>Starts a server and waits until it serves (fails with its output if it never does).</summary>
    public static async Task<InferenceServer> StartReadyAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var server = await StartAsync(settings);
        return await ReadyAsync(server, TimeSpan.FromSeconds(90));
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
        return await WithFreshPortsOnClashAsync(() =>
        {
            var httpPort = FreeTcpPort.Next();
            var replica = new InferenceServer(Infrastructure, httpPort, settings ?? new Dictionary<string, string>(), ownsInfrastructure: false);
            return ListeningAsync(replica, httpPort, TimeSpan.FromSeconds(60));
        });
    }

    /// <summary>The checkpoint's model loaded in this (test) process, to compute expected outputs.</summary>
    public Task<LoadedModel> LoadAsync(string checkpoint) =>
        GptCheckpoint.LoadAsync(new LocalDirectoryCheckpointStore(CheckpointDirectory), checkpoint, CPU);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_ownsInfrastructure)
        {
            await Infrastructure.DisposeAsync();
        }
    }

    /// <summary>Writes the two test versions (<c>tiny/v1</c>, <c>tiny/v2</c>) that <see cref="ServiceEnvironment"/> serves.</summary>
    public static async Task WriteCheckpointsAsync(string root)
    {
        await WriteCheckpointAsync(root, "tiny/v1/model.safetensors", seed: 1);
        await WriteCheckpointAsync(root, "tiny/v2/model.safetensors", seed: 2);
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

    /// <summary>The service's settings as environment variables (<c>__</c> for <c>:</c>): the two test versions, on <paramref name="infrastructure"/>.</summary>
    public static Dictionary<string, string?> ServiceEnvironment(ServiceInfrastructure infrastructure, IReadOnlyDictionary<string, string> settings)
    {
        var environment = infrastructure.ConnectionSettings();
        environment["Inference__CheckpointDirectory"] = infrastructure.CheckpointDirectory;
        environment["Inference__DefaultModel"] = "tiny";
        environment["Inference__Models__0__Name"] = "tiny";
        environment["Inference__Models__0__Version"] = "v1";
        environment["Inference__Models__0__Checkpoint"] = "tiny/v1/model.safetensors";
        environment["Inference__Models__0__Production"] = "true";
        environment["Inference__Models__1__Name"] = "tiny";
        environment["Inference__Models__1__Version"] = "v2";
        environment["Inference__Models__1__Checkpoint"] = "tiny/v2/model.safetensors";
        environment["Inference__MaxBatchSize"] = "8";
        environment["Inference__MaxQueueSize"] = "64";
        environment["Torch__IntraOpThreads"] = "1";
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return environment;
    }
}
