using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Testing;

namespace MsSwift.Inference.Tests;

/// <summary>The Kafka request/result path against the real broker and real service processes.</summary>
public sealed class AsyncPredictTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Requests_on_kafka_are_answered_on_the_results_topic_with_what_grpc_answers()
    {
        await using var server = await InferenceServer.StartReadyAsync();
        var ids = Enumerable.Range(0, 12).Select(i => $"async-{i}").ToList();
        var grpc = await Task.WhenAll(ids.Select(id => server.Client.PredictAsync(Request(id, $"prompt {id}", 10)).ResponseAsync));

        await server.ProduceAsync(KafkaTopics.InferenceRequests, ids.Select(id => (id, Request(id, $"prompt {id}", 10).ToByteArray())));
        var results = await CollectResultsAsync(server, ids.ToHashSet());

        foreach (var (id, expected) in ids.Zip(grpc))
        {
            var result = Assert.Single(results, result => result.RequestId == id);
            Assert.Equal(expected.OutputData, result.Response.OutputData);
            Assert.Equal("v1", result.Response.ModelVersion);
        }
    }

    [Fact]
    public async Task A_duplicate_request_id_is_served_once_and_answered_again_from_the_store_and_bad_messages_go_where_they_should()
    {
        await using var server = await InferenceServer.StartReadyAsync();
        var invalid = new PredictRequest { RequestId = "invalid-1" }; // no input_data

        await server.ProduceAsync(KafkaTopics.InferenceRequests, [
            ("dup-1", Request("dup-1", "same", 5).ToByteArray()),
            ("dup-1", Request("dup-1", "same", 5).ToByteArray()),
            ("garbage-1", [0xff, 0xff, 0xff, 0x01]),
            ("invalid-1", invalid.ToByteArray()),
            ("marker-1", Request("marker-1", "after", 3).ToByteArray()),
        ]);
        var results = await CollectResultsAsync(server, ["dup-1", "invalid-1", "marker-1"]);
        var deadLetter = await ConsumeOneAsync(server, KafkaTopics.InferenceDeadLetters);
        // Everything produced so far has been handled once every offset is committed.
        await WaitForCommitsAsync(server);
        var allResults = await CollectResultsAsync(server, ["dup-1", "invalid-1", "marker-1"]);

        var duplicates = allResults.Where(result => result.RequestId == "dup-1").ToList();
        Assert.Equal(2, duplicates.Count);
        Assert.Equal(duplicates[0], duplicates[1]);
        var messages = server.Infrastructure.Kafka.ReadMessages(KafkaTopics.InferenceResults, "dup-1", found => found.Count >= 2, Timeout);
        Assert.Single(messages, message => message.Headers.TryGetLastBytes("msswift-repeat", out _));
        var error = Assert.Single(results, result => result.RequestId == "invalid-1").Error;
        Assert.Equal((int)Google.Rpc.Code.InvalidArgument, error.Code);
        Assert.Contains("input_data: must not be empty", error.Message);
        Assert.Equal("garbage-1", deadLetter.Message.Key);
        Assert.True(deadLetter.Message.Headers.TryGetLastBytes("msswift-error", out var reason));
        Assert.StartsWith("not a PredictRequest", Encoding.UTF8.GetString(reason));
    }

    [Fact]
    public async Task The_trace_of_a_request_continues_through_the_service_into_its_result()
    {
        await using var server = await InferenceServer.StartReadyAsync();
        using var source = new System.Diagnostics.ActivitySource("MsSwift.Tests");
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = candidate => candidate.Name is "MsSwift.Tests" or MsSwift.ServiceDefaults.Kafka.KafkaTelemetry.ActivitySourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        using var client = source.StartActivity("client request")!;

        await server.ProduceAsync(KafkaTopics.InferenceRequests, [("traced-1", Request("traced-1", "follow me", 4).ToByteArray())]);
        var result = await ConsumeOneAsync(server, KafkaTopics.InferenceResults);

        Assert.True(result.Message.Headers.TryGetLastBytes("traceparent", out var traceparent));
        Assert.Equal(client.TraceId.ToHexString(), Encoding.UTF8.GetString(traceparent).Split('-')[1]);
    }

    [Fact]
    public async Task Killing_a_replica_mid_batch_loses_no_request_and_serves_none_twice()
    {
        var settings = new Dictionary<string, string> { ["Inference__AsyncRequestLeaseSeconds"] = "4" };
        await using var first = await InferenceServer.StartReadyAsync(settings);
        await using var second = await first.StartReplicaAsync(settings);
        Assert.True((await second.WaitUntilReadyAsync(Timeout)).IsSuccessStatusCode);
        var ids = Enumerable.Range(0, 40).Select(i => $"kill-{i}").ToHashSet();

        // Sampled without a seed: a request generated twice would almost surely differ, a repeat is the stored answer.
        await first.ProduceAsync(KafkaTopics.InferenceRequests, ids.Select(id => (id, Sampled(Request(id, $"work {id}", 60)).ToByteArray())));
        var early = await CollectResultsAsync(first, ids, atLeast: 3);
        first.Kill();
        var results = await CollectResultsAsync(second, ids);

        Assert.True(early.Count < ids.Count, "every request was answered before the kill: the test proved nothing");
        Assert.Equal(ids.Order(), results.Select(result => result.RequestId).Distinct().Order());
        Assert.All(results, result => Assert.Equal(60, result.Response.Usage.CompletionTokens));
        Assert.All(results.GroupBy(result => result.RequestId), answers => Assert.Single(answers.Select(answer => answer.Response.OutputData).Distinct()));
    }

    [Fact]
    public async Task A_redis_restart_under_load_loses_no_request_and_serves_none_twice()
    {
        await using var infrastructure = await ServiceInfrastructure.StartAsync(persistentRedis: true);
        await using var server = await InferenceServer.StartAsync(infrastructure, new Dictionary<string, string>());
        Assert.True((await server.WaitUntilReadyAsync(Timeout)).IsSuccessStatusCode);
        var before = Enumerable.Range(0, 30).Select(i => $"redis-{i}").ToList();
        var during = Enumerable.Range(30, 10).Select(i => $"redis-{i}").ToList();

        await server.ProduceAsync(KafkaTopics.InferenceRequests, before.Select(id => (id, Sampled(Request(id, $"work {id}", 40)).ToByteArray())));
        await CollectResultsAsync(server, before.ToHashSet(), atLeast: 3);
        var restart = infrastructure.RestartRedisAsync(RedisRestart.KeepingItsData);
        await server.ProduceAsync(KafkaTopics.InferenceRequests, during.Select(id => (id, Sampled(Request(id, $"work {id}", 40)).ToByteArray())));
        await restart;
        var results = await CollectResultsAsync(server, before.Concat(during).ToHashSet());

        Assert.Equal(before.Concat(during).Order(), results.Select(result => result.RequestId).Distinct().Order());
        Assert.All(results, result => Assert.Equal(40, result.Response.Usage.CompletionTokens));
        Assert.All(results.GroupBy(result => result.RequestId), answers => Assert.Single(answers.Select(answer => answer.Response.OutputData).Distinct()));
        Assert.True((await server.WaitUntilReadyAsync(Timeout)).IsSuccessStatusCode, "the service did not recover");
    }

    private static PredictRequest Sampled(PredictRequest request)
    {
        request.Parameters.Temperature = MsSwift.Modeling.Generation.GenerationOptions.MaxTemperature;
        return request;
    }

    private static PredictRequest Request(string id, string prompt, int maxNewTokens) => new()
    {
        RequestId = id,
        InputData = ByteString.CopyFromUtf8(prompt),
        Parameters = new GenerationParameters { MaxNewTokens = maxNewTokens },
    };

    /// <summary>Reads the results topic from the start until every id (or <paramref name="atLeast"/> of them) has a result.</summary>
    private static Task<List<PredictResult>> CollectResultsAsync(InferenceServer server, HashSet<string> ids, int? atLeast = null) => Task.Run(() =>
    {
        using var consumer = Consumer(server);
        consumer.Subscribe(KafkaTopics.InferenceResults);
        var results = new List<PredictResult>();
        var deadline = DateTime.UtcNow + Timeout;
        var needed = atLeast ?? ids.Count;
        var seen = new HashSet<string>();
        // After the last needed id arrives, read on briefly so duplicates would show up too.
        DateTime? settle = null;
        while (DateTime.UtcNow < deadline && (settle is null || DateTime.UtcNow < settle))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } message)
            {
                var result = PredictResult.Parser.ParseFrom(message.Message.Value);
                if (ids.Contains(result.RequestId))
                {
                    results.Add(result);
                    seen.Add(result.RequestId);
                }
            }

            if (settle is null && seen.Count >= needed)
            {
                settle = DateTime.UtcNow.AddSeconds(atLeast is null ? 1 : 0);
            }
        }

        consumer.Close();
        Assert.True(seen.Count >= needed, $"only {seen.Count} of {needed} results arrived: missing {string.Join(", ", ids.Except(seen).Take(10))}");
        return results;
    });

    private static Task<ConsumeResult<string, byte[]>> ConsumeOneAsync(InferenceServer server, string topic) => Task.Run(() =>
    {
        using var consumer = Consumer(server);
        consumer.Subscribe(topic);
        var message = consumer.Consume(Timeout) ?? throw new TimeoutException($"nothing arrived on {topic}");
        consumer.Close();
        return message;
    });

    /// <summary>Waits until the service's group has committed everything on the requests topic.</summary>
    private static async Task WaitForCommitsAsync(InferenceServer server)
    {
        using var probe = Consumer(server, "inference"); // queries the group's offsets without joining it
        var partitions = Enumerable.Range(0, 4).Select(partition => new TopicPartition(KafkaTopics.InferenceRequests, partition)).ToList();
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            var committed = probe.Committed(partitions, TimeSpan.FromSeconds(5));
            var ends = partitions.Select(partition => probe.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5)).High.Value).ToList();
            if (committed.Zip(ends).All(pair => pair.Second == 0 || pair.First.Offset.Value == pair.Second))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the inference group never committed every request");
    }

    private static IConsumer<string, byte[]> Consumer(InferenceServer server, string? group = null) =>
        new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = server.KafkaBootstrapServers,
            GroupId = group ?? $"test-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
        }).Build();
}
