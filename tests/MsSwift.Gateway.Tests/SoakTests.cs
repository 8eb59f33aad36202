using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Testing;
using Xunit.Abstractions;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// Steady mixed load through the gateway (Predict, PredictStream, OpenAI completions, Kafka
/// requests): zero errors, every asynchronous request answered, and the services' memory and
/// handles flat. 20 s here; <c>MSSWIFT_SOAK_SECONDS=600</c> makes it the 10-minute soak.
/// </summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class SoakTests(GatewayCluster cluster, ITestOutputHelper output)
{
    private const int Workers = 5;
    private static readonly string[] Kinds = ["predict", "stream", "openai"];
    private static readonly TimeSpan AsyncInterval = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Mixed_load_runs_without_errors_and_leaves_memory_and_handles_flat()
    {
        var duration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("MSSWIFT_SOAK_SECONDS") ?? "20", CultureInfo.InvariantCulture));
        var headers = GatewayCluster.Credentials(GatewayCluster.LoadKey);
        using var http = cluster.Http(GatewayCluster.LoadKey);
        var errors = new ConcurrentQueue<string>();
        var asyncIds = new ConcurrentQueue<string>();
        var counts = new ConcurrentDictionary<string, int>();

        // Warm up, so the baseline is a serving process rather than a fresh one.
        await RunAsync(TimeSpan.FromSeconds(3), new ConcurrentQueue<string>(), new ConcurrentQueue<string>(), new ConcurrentDictionary<string, int>());
        var baseline = (Inference: ProcessResources.Of(cluster.Inference.ProcessId), Gateway: ProcessResources.Of(cluster.Gateway.ProcessId));

        await RunAsync(duration, errors, asyncIds, counts);
        var pending = asyncIds.ToHashSet();
        var results = cluster.Infrastructure.Kafka.ReadMessages(KafkaTopics.InferenceResults, message => pending.Contains(message.Key),
            found => found.Select(message => message.Key).Distinct().Count() == pending.Count, TimeSpan.FromSeconds(60));
        var answered = results.Select(message => message.Key).Distinct().Count();

        var after = (Inference: ProcessResources.Of(cluster.Inference.ProcessId), Gateway: ProcessResources.Of(cluster.Gateway.ProcessId));
        output.WriteLine($"{duration.TotalSeconds} s, {string.Join(", ", counts.Select(entry => $"{entry.Value} {entry.Key}"))}, {errors.Count} errors, {answered}/{asyncIds.Count} async answered");
        output.WriteLine($"inference: {baseline.Inference} -> {after.Inference}; gateway: {baseline.Gateway} -> {after.Gateway}");
        Assert.True(errors.IsEmpty, string.Join(Environment.NewLine, errors.Take(10)));
        Assert.Equal(asyncIds.Count, answered);
        Assert.All(counts, entry => Assert.True(entry.Value > 0, $"no {entry.Key} ran"));
        AssertFlat("inference", baseline.Inference, after.Inference);
        AssertFlat("gateway", baseline.Gateway, after.Gateway);

        // Closed-loop callers for the synchronous kinds (bounded by the service's own pace) and a
        // steady stream of Kafka requests beside them: load the service holds, not a flood.
        async Task RunAsync(TimeSpan span, ConcurrentQueue<string> failures, ConcurrentQueue<string> ids, ConcurrentDictionary<string, int> done)
        {
            var clock = Stopwatch.StartNew();
            var callers = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
            {
                for (var i = 0; clock.Elapsed < span; i++)
                {
                    await CallAsync(Kinds[(worker + i) % Kinds.Length], $"{worker} {i}", failures, done);
                }
            }));
            var queuer = Task.Run(async () =>
            {
                for (var i = 0; clock.Elapsed < span; i++)
                {
                    await CallAsync("kafka", $"async {i}", failures, done, ids);
                    await Task.Delay(AsyncInterval);
                }
            });
            await Task.WhenAll(callers.Append(queuer));
        }

        async Task CallAsync(string kind, string prompt, ConcurrentQueue<string> failures, ConcurrentDictionary<string, int> done, ConcurrentQueue<string>? ids = null)
        {
            try
            {
                switch (kind)
                {
                    case "predict":
                        await cluster.Models.PredictAsync(Predict(prompt), headers, DateTime.UtcNow.AddSeconds(60));
                        break;
                    case "stream":
                        using (var call = cluster.Models.PredictStream(Predict(prompt), headers, DateTime.UtcNow.AddSeconds(60)))
                        {
                            await foreach (var _ in call.ResponseStream.ReadAllAsync())
                            {
                            }
                        }

                        break;
                    case "openai":
                        using (var response = await http.PostAsJsonAsync("/v1/completions", new { model = "tiny", prompt, max_tokens = 4 }))
                        {
                            response.EnsureSuccessStatusCode();
                        }

                        break;
                    default:
                        using (var response = await http.PostAsJsonAsync("/async/predict", new { prompt, parameters = new { max_new_tokens = 4 } }))
                        {
                            response.EnsureSuccessStatusCode();
                            ids!.Enqueue((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("request_id").GetString()!);
                        }

                        break;
                }

                done.AddOrUpdate(kind, 1, (_, n) => n + 1);
            }
            catch (Exception error) when (error is RpcException or HttpRequestException)
            {
                failures.Enqueue($"{kind}: {error.Message}");
            }
        }
    }

    private static PredictRequest Predict(string prompt) => new()
    {
        InputData = ByteString.CopyFromUtf8(prompt),
        Parameters = new GenerationParameters { MaxNewTokens = 4 },
    };

    /// <summary>
    /// Generous bounds (the GC and connection pools settle at their own pace), tight enough to
    /// catch a leak of one handle or buffer per request: thousands of requests run.
    /// </summary>
    private static void AssertFlat(string service, ProcessResources before, ProcessResources after)
    {
        Assert.True(after.OpenHandles - before.OpenHandles < 64, $"{service} handles grew: {before} -> {after}");
        Assert.True(after.ResidentBytes < before.ResidentBytes * 1.5 + 64L * 1024 * 1024, $"{service} memory grew: {before} -> {after}");
    }
}
