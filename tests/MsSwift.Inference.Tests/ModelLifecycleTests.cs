using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Testing;

namespace MsSwift.Inference.Tests;

/// <summary>Versions, admission control and readiness, each against its own service process.</summary>
public sealed class ModelLifecycleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Promoting_a_new_version_under_load_switches_to_it_with_zero_failed_requests()
    {
        await using var server = await InferenceServer.StartReadyAsync();
        await InferenceServer.WriteCheckpointAsync(server.CheckpointDirectory, "tiny/v3/model.safetensors", seed: 3);
        var versions = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<Exception>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 8).Select(client => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var response = await server.Client.PredictAsync(Request($"client {client}", 8), deadline: DateTime.UtcNow + Timeout);
                    versions.Enqueue(response.ModelVersion);
                }
                catch (RpcException error)
                {
                    failures.Enqueue(error);
                }
            }
        })).ToList();

        await PublishAsync(server, ModelEventType.Promoted, "v3", "tiny/v3/model.safetensors");
        var switched = await EventuallyAsync(() => versions.TakeLast(16).Count(version => version == "v3") == 16);
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        var pinnedOld = await Assert.ThrowsAsync<RpcException>(() => server.Client.PredictAsync(Pinned("v1")).ResponseAsync);

        Assert.True(switched, $"responses never settled on v3: {string.Join(",", versions.TakeLast(20))}");
        Assert.Empty(failures);
        Assert.Contains("v1", versions);
        Assert.Equal(StatusCode.NotFound, pinnedOld.StatusCode); // the old version was unloaded
        Assert.Contains("available versions: v2, v3", pinnedOld.Status.Detail);
    }

    [Fact]
    public async Task A_version_that_fails_to_load_leaves_the_current_one_serving()
    {
        await using var server = await InferenceServer.StartReadyAsync();

        await PublishAsync(server, ModelEventType.Promoted, "v9", "tiny/v9/missing.safetensors");
        // Events of one model share a partition: once v2 is in production, the v9 event was handled.
        await PublishAsync(server, ModelEventType.Promoted, "v2", "tiny/v2/model.safetensors");
        var promoted = await EventuallyAsync(async () => (await server.Client.PredictAsync(Request("probe", 1))).ModelVersion == "v2");
        var pinnedBroken = await Assert.ThrowsAsync<RpcException>(() => server.Client.PredictAsync(Pinned("v9")).ResponseAsync);

        Assert.True(promoted);
        Assert.Equal(StatusCode.NotFound, pinnedBroken.StatusCode);
    }

    [Fact]
    public async Task A_full_queue_answers_resource_exhausted_at_once_and_serves_the_rest()
    {
        await using var server = await InferenceServer.StartReadyAsync(new Dictionary<string, string>
        {
            ["Inference__MaxBatchSize"] = "1",
            ["Inference__MaxQueueSize"] = "1",
        });

        var calls = Enumerable.Range(0, 12)
            .Select(i => server.Client.PredictAsync(Request($"flood {i}", 120), deadline: DateTime.UtcNow + Timeout).ResponseAsync)
            .ToList();
        var outcomes = await Task.WhenAll(calls.Select(async call =>
        {
            try
            {
                return (await call).Usage.CompletionTokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (RpcException error)
            {
                return error.StatusCode.ToString();
            }
        }));

        Assert.Contains(nameof(StatusCode.ResourceExhausted), outcomes);
        Assert.All(outcomes, outcome => Assert.True(outcome is "120" or nameof(StatusCode.ResourceExhausted), outcome));
    }

    [Fact]
    public async Task The_service_is_not_ready_while_no_model_could_be_loaded()
    {
        await using var server = await InferenceServer.StartAsync(new Dictionary<string, string>
        {
            ["Inference__Models__0__Checkpoint"] = "tiny/v7/missing.safetensors",
            ["Inference__Models__1__Checkpoint"] = "tiny/v8/missing.safetensors",
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };

        var alive = await http.GetAsync("/alive");
        var ready = await http.GetAsync("/healthz");
        var predict = await Assert.ThrowsAsync<RpcException>(() => server.Client.PredictAsync(Request("x", 1)).ResponseAsync);

        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(StatusCode.NotFound, predict.StatusCode);
        Assert.Equal("unknown model 'tiny'; available models: (none)", predict.Status.Detail);
    }

    private static async Task PublishAsync(InferenceServer server, ModelEventType type, string version, string checkpoint)
    {
        var modelEvent = new ModelEvent
        {
            EventId = Guid.NewGuid().ToString("N"),
            Type = type,
            Model = "tiny",
            Version = version,
            Checkpoint = checkpoint,
            OccurredAt = Timestamp.FromDateTime(DateTime.UtcNow),
        };
        await server.ProduceAsync(KafkaTopics.ModelEvents, [("tiny", modelEvent.ToByteArray())]);
    }

    private static Task<bool> EventuallyAsync(Func<bool> condition) => EventuallyAsync(() => Task.FromResult(condition()));

    private static Task<bool> EventuallyAsync(Func<Task<bool>> condition) => Poll.UntilAsync(condition, Timeout, TimeSpan.FromMilliseconds(50));

    private static PredictRequest Request(string prompt, int maxNewTokens) => new()
    {
        InputData = ByteString.CopyFromUtf8(prompt),
        Parameters = new GenerationParameters { MaxNewTokens = maxNewTokens },
    };

    private static PredictRequest Pinned(string version)
    {
        var request = Request("pinned", 1);
        request.ModelVersion = version;
        return request;
    }
}
