using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using MsSwift.Contracts;
using MsSwift.ServiceDefaults.Kafka;
using MsSwift.Testing;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>The product's producer and consumer wiring against the real dev broker process.</summary>
public sealed class KafkaMessagingTests : IAsyncLifetime
{
    private KafkaDevBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await KafkaDevBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_produced_message_reaches_a_consumer_group_carrying_the_producers_trace()
    {
        var sampled = new List<Activity>();
        using var listener = ListenTo(KafkaTelemetry.ActivitySourceName, sampled);
        var (app, _, _) = ServiceHost.Build(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = _broker.BootstrapServers,
            ["Kafka:SessionTimeoutMs"] = "6000",
        }, builder => builder.AddKafka());
        await using var _ = app;
        var producer = app.Services.GetRequiredService<KafkaProducer>();
        var consumers = app.Services.GetRequiredService<KafkaConsumerFactory>();
        var key = Guid.NewGuid().ToString("N");

        var delivered = await producer.ProduceAsync(KafkaTopics.InferenceRequests, key, Encoding.UTF8.GetBytes("hello"));
        var send = Assert.Single(sampled, activity => activity.OperationName == $"send {KafkaTopics.InferenceRequests}");

        using var consumer = consumers.Create("test-group");
        consumer.Subscribe(KafkaTopics.InferenceRequests);
        var received = consumer.Consume(TimeSpan.FromSeconds(30));
        Assert.NotNull(received);
        using (var process = KafkaTelemetry.StartProcess(received, "test-group"))
        {
            Assert.NotNull(process);
            Assert.Equal(send.TraceId, process.TraceId);
            Assert.Equal(send.SpanId, process.ParentSpanId);
            Assert.Equal(ActivityKind.Consumer, process.Kind);
        }

        consumer.Commit(received);
        var committed = consumer.Committed([received.TopicPartition], TimeSpan.FromSeconds(10));
        consumer.Close();

        Assert.Equal(key, received.Message.Key);
        Assert.Equal("hello", Encoding.UTF8.GetString(received.Message.Value));
        Assert.Equal(delivered.TopicPartitionOffset, received.TopicPartitionOffset);
        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal("kafka", send.GetTagItem("messaging.system"));
        Assert.True(received.Message.Headers.TryGetLastBytes("traceparent", out var traceparent));
        Assert.Contains(send.TraceId.ToHexString(), Encoding.UTF8.GetString(traceparent));
        Assert.Equal(received.Offset.Value + 1, Assert.Single(committed).Offset.Value);
    }

    [Fact]
    public async Task Producing_to_an_unreachable_broker_fails_instead_of_hanging()
    {
        var (app, _, _) = ServiceHost.Build(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = $"127.0.0.1:{FreeTcpPort.Next()}",
            ["Kafka:MessageTimeoutMs"] = "1000",
        }, builder => builder.AddKafka());
        await using var _ = app;
        var producer = app.Services.GetRequiredService<KafkaProducer>();

        var error = await Assert.ThrowsAsync<ProduceException<string, byte[]>>(
            () => producer.ProduceAsync(KafkaTopics.InferenceRequests, "k", [1]));

        Assert.Equal(ErrorCode.Local_MsgTimedOut, error.Error.Code);
    }

    private static ActivityListener ListenTo(string source, List<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = candidate => candidate.Name == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (stopped)
                {
                    stopped.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
