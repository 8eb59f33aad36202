using System.Globalization;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;

namespace MsSwift.Inference.Tests;

/// <summary>The service's own metrics on its Prometheus endpoint.</summary>
[Collection(InferenceServerGroup.Name)]
public sealed class MetricsTests(InferenceServerFixture fixture)
{
    [Fact]
    public async Task Metrics_show_requests_by_outcome_latencies_and_an_average_batch_above_one()
    {
        var server = fixture.Server;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
        var before = Parse(await http.GetStringAsync("/metrics"));

        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => server.Client.PredictAsync(new PredictRequest
        {
            InputData = ByteString.CopyFromUtf8($"metrics {i}"),
            Parameters = new GenerationParameters { MaxNewTokens = 20 },
        }).ResponseAsync));
        await Assert.ThrowsAsync<global::Grpc.Core.RpcException>(() => server.Client.PredictAsync(new PredictRequest()).ResponseAsync);
        var after = Parse(await http.GetStringAsync("/metrics"));

        double Delta(string name, string? label = null) => Sum(after, name, label) - Sum(before, name, label);
        void AtLeast(double minimum, string name, string? label = null) =>
            Assert.True(Delta(name, label) >= minimum, $"{name} {label} rose by {Delta(name, label)}, expected at least {minimum}");
        var executions = Delta("msswift_inference_executions_total");
        var inferences = Delta("msswift_inference_inferences_total");
        AtLeast(16, "msswift_inference_requests_total", "outcome=\"ok\"");
        AtLeast(1, "msswift_inference_requests_total", "outcome=\"invalid_argument\"");
        AtLeast(16 * 20, "msswift_inference_tokens_generated_total");
        AtLeast(16, "msswift_inference_time_to_first_token_seconds_count");
        AtLeast(16 * 19, "msswift_inference_inter_token_latency_seconds_count");
        AtLeast(16, "msswift_inference_queue_duration_seconds_count");
        Assert.True(inferences > executions, $"{inferences} inferences in {executions} executions: no batching visible");
        Assert.Contains(after.Keys, key => key.StartsWith("msswift_inference_requests_pending", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Requests_sharing_a_long_prompt_prefix_show_prefix_cache_hits()
    {
        var server = fixture.Server;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
        var shared = "A system prompt of exactly sixty-four bytes, shared by both asks";
        var before = Parse(await http.GetStringAsync("/metrics"));

        foreach (var question in new[] { " first?", " second?" })
        {
            await server.Client.PredictAsync(new PredictRequest
            {
                InputData = ByteString.CopyFromUtf8(shared + question),
                Parameters = new GenerationParameters { MaxNewTokens = 2 },
            });
        }

        var after = Parse(await http.GetStringAsync("/metrics"));
        var queries = Sum(after, "msswift_inference_prefix_cache_queries_total", null) - Sum(before, "msswift_inference_prefix_cache_queries_total", null);
        var hits = Sum(after, "msswift_inference_prefix_cache_hits_total", null) - Sum(before, "msswift_inference_prefix_cache_hits_total", null);
        Assert.True(queries >= 2 * 64 + 15, $"prefix cache queries rose by {queries}");
        Assert.True(hits >= 48, $"prefix cache hits rose by {hits}: the second request did not reuse the first one's prefix");
    }

    [Fact]
    public async Task A_cached_prefix_serves_only_the_caller_whose_request_computed_it()
    {
        var server = fixture.Server;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
        const string Prompt = "Only the key that sent this sixty-four byte prefix may reuse it: ok?";
        async Task<double> HitsAsync(string caller)
        {
            var before = Parse(await http.GetStringAsync("/metrics"));
            await server.Client.PredictAsync(
                new PredictRequest { InputData = ByteString.CopyFromUtf8(Prompt), Parameters = new GenerationParameters { MaxNewTokens = 1 } },
                new global::Grpc.Core.Metadata { { MsSwiftHeaders.Caller, caller } });
            var after = Parse(await http.GetStringAsync("/metrics"));
            return Sum(after, "msswift_inference_prefix_cache_hits_total", null) - Sum(before, "msswift_inference_prefix_cache_hits_total", null);
        }

        Assert.Equal(0, await HitsAsync("key-a"));
        // The same prompt from another key computes it all: a hit would tell that key what key-a sent, by its speed.
        Assert.Equal(0, await HitsAsync("key-b"));
        Assert.True(await HitsAsync("key-a") >= 48, "key-a's second request did not reuse its own prefix");
    }

    /// <summary>Prometheus text format: "name{labels} value" per sample line.</summary>
    private static Dictionary<string, double> Parse(string text) =>
        text.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line.Split(' '))
            .Where(parts => parts.Length >= 2)
            .GroupBy(parts => parts[0])
            .ToDictionary(group => group.Key, group => double.Parse(group.Last()[1], CultureInfo.InvariantCulture));

    private static double Sum(Dictionary<string, double> samples, string name, string? label) =>
        samples.Where(sample => (sample.Key == name || sample.Key.StartsWith(name + "{", StringComparison.Ordinal))
                && (label is null || sample.Key.Contains(label, StringComparison.Ordinal)))
            .Sum(sample => sample.Value);
}
