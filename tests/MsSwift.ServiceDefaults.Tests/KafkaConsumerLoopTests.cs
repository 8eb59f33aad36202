using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MsSwift.ServiceDefaults.Kafka;
using MsSwift.Testing;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>The shared consume loop against the real dev broker: poison, missing topics, dependency outages, a broker restart.</summary>
public sealed class KafkaConsumerLoopTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly Backoff Fast = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200));

    [Fact]
    public async Task A_message_that_keeps_failing_is_dead_lettered_after_bounded_attempts_and_the_partition_moves_on()
    {
        await using var broker = await KafkaDevBroker.StartAsync();
        var topic = $"loop-poison-{Guid.NewGuid():N}";
        var handler = new RecordingHandler(new KafkaConsumerSettings($"group-{Guid.NewGuid():N}", [topic])
        {
            MaxAttempts = 3, DeadLetterTopic = $"{topic}-dlq", RetryBackoff = Fast,
        }, fail: message => message.Message.Key == "poison" ? new InvalidOperationException("cannot handle this one") : null);
        await using var host = await StartAsync(broker, handler);

        await ProduceToPartitionZeroAsync(broker, topic, "poison", "good");

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(handler.Handled.Contains("good")), Timeout), "the message after the poison one was never handled");
        var deadLetters = broker.ReadMessages($"{topic}-dlq", "poison", found => found.Count > 0, Timeout);
        var deadLetter = Assert.Single(deadLetters);
        Assert.Equal(3, handler.Attempts["poison"]);
        Assert.Contains("handling failed 3 times", Header(deadLetter, KafkaConsumerLoop<RecordingHandler>.ErrorHeader));
        Assert.Contains("cannot handle this one", Header(deadLetter, KafkaConsumerLoop<RecordingHandler>.ErrorHeader));
        Assert.Equal("3", Header(deadLetter, KafkaConsumerLoop<RecordingHandler>.AttemptsHeader));
        Assert.Equal($"{topic}/0@0", Header(deadLetter, KafkaConsumerLoop<RecordingHandler>.SourceHeader));
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(CommittedOffset(broker, handler.Settings.GroupId, topic) == 2), Timeout), "the partition's offsets stalled behind the poison message");
    }

    [Fact]
    public async Task A_dependency_outage_is_waited_out_and_never_dead_letters_the_message()
    {
        await using var broker = await KafkaDevBroker.StartAsync();
        var topic = $"loop-outage-{Guid.NewGuid():N}";
        var handler = new RecordingHandler(new KafkaConsumerSettings($"group-{Guid.NewGuid():N}", [topic])
        {
            MaxAttempts = 2, DeadLetterTopic = $"{topic}-dlq", RetryBackoff = Fast,
        }, fail: message => message.Attempt <= 6 ? new TimeoutException("Redis did not answer") : null);
        await using var host = await StartAsync(broker, handler);

        await ProduceToPartitionZeroAsync(broker, topic, "patient");

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(handler.Handled.Contains("patient")), Timeout), "the message was given up on");
        Assert.Equal(7, handler.Attempts["patient"]);
        Assert.Empty(MessagesIfAny(broker, $"{topic}-dlq", "patient"));
    }

    [Fact]
    public async Task A_dependency_that_stays_down_is_retried_with_backoff_not_in_a_storm()
    {
        await using var broker = await KafkaDevBroker.StartAsync();
        var topic = $"loop-storm-{Guid.NewGuid():N}";
        var handler = new RecordingHandler(new KafkaConsumerSettings($"group-{Guid.NewGuid():N}", [topic])
        {
            RetryBackoff = new Backoff(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200)),
        }, fail: _ => new TimeoutException("the dependency is down"));
        await using var host = await StartAsync(broker, handler);
        await ProduceToPartitionZeroAsync(broker, topic, "stuck");
        Assert.True(await Poll.UntilAsync(() => Task.FromResult(handler.Attempts.ContainsKey("stuck")), Timeout), "the message never arrived");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var before = handler.Attempts["stuck"];
        await Task.Delay(TimeSpan.FromSeconds(3));
        var attempts = handler.Attempts["stuck"] - before;

        // Waits of at least 100 ms once the backoff reaches its cap: at most ~30 tries in 3 s, where
        // a retry loop without backoff makes thousands. It never gives up on a dependency either.
        Assert.InRange(attempts, 3, 8 + (int)(clock.Elapsed.TotalMilliseconds / 100));
        Assert.DoesNotContain("stuck", handler.Handled);
    }

    [Fact]
    public async Task A_topic_that_does_not_exist_yet_is_consumed_once_it_appears_and_the_service_stays_ready()
    {
        await using var broker = await KafkaDevBroker.StartAsync();
        var topic = $"loop-late-{Guid.NewGuid():N}";
        var handler = new RecordingHandler(new KafkaConsumerSettings($"group-{Guid.NewGuid():N}", [topic]) { RetryBackoff = Fast });
        await using var host = await StartAsync(broker, handler);
        await Task.Delay(TimeSpan.FromSeconds(2)); // the loop polls a topic that is not there

        await ProduceToPartitionZeroAsync(broker, topic, "first");

        Assert.True(await Poll.UntilAsync(() => Task.FromResult(handler.Handled.Contains("first")), Timeout), "the late topic was never consumed");
        var health = await host.Services.GetRequiredService<KafkaConsumerHealth>().CheckHealthAsync(HealthContext());
        Assert.Equal(HealthStatus.Healthy, health.Status);
    }

    [Fact]
    public async Task After_a_broker_restart_a_message_produced_during_the_outage_is_delivered_and_consumed()
    {
        var broker = await KafkaDevBroker.StartAsync();
        var port = broker.Port;
        var topic = $"loop-restart-{Guid.NewGuid():N}";
        var handler = new RecordingHandler(new KafkaConsumerSettings($"group-{Guid.NewGuid():N}", [topic]) { RetryBackoff = Fast });
        var host = await StartAsync(broker, handler);
        try
        {
            var producer = host.Services.GetRequiredService<KafkaProducer>();
            await producer.ProduceAsync(topic, "before", Encoding.UTF8.GetBytes("before"));
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(handler.Handled.Contains("before")), Timeout), "nothing was consumed before the restart");

            await broker.DisposeAsync();
            var during = producer.ProduceAsync(topic, "during", Encoding.UTF8.GetBytes("during"));
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(during.IsCompleted, "the broker was down, yet the message was acknowledged");
            broker = await KafkaDevBroker.StartAsync(port);

            await during.WaitAsync(Timeout);
            Assert.True(await Poll.UntilAsync(() => Task.FromResult(handler.Handled.Contains("during")), Timeout), "the consumer never resumed after the restart");
        }
        finally
        {
            await host.DisposeAsync();
            await broker.DisposeAsync();
        }
    }

    private static async Task<WebApplication> StartAsync(KafkaDevBroker broker, RecordingHandler handler)
    {
        var (app, _, _) = ServiceHost.Build(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = broker.BootstrapServers,
            ["Kafka:SessionTimeoutMs"] = "6000",
        }, builder =>
        {
            builder.AddKafka();
            builder.Services.AddSingleton(handler);
            builder.Services.AddKafkaConsumer<RecordingHandler>();
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>One partition, so the messages' order (and the commit that follows it) is known.</summary>
    private static async Task ProduceToPartitionZeroAsync(KafkaDevBroker broker, string topic, params string[] keys)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        foreach (var key in keys)
        {
            await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<string, byte[]> { Key = key, Value = Encoding.UTF8.GetBytes(key) });
        }
    }

    private static long CommittedOffset(KafkaDevBroker broker, string group, string topic)
    {
        using var probe = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = group }).Build();
        return probe.Committed([new TopicPartition(topic, 0)], TimeSpan.FromSeconds(5)).Single().Offset.Value;
    }

    /// <summary>The messages with this key, none when the topic was never created (nothing was ever sent there).</summary>
    private static List<Message<string, byte[]>> MessagesIfAny(KafkaDevBroker broker, string topic, string key)
    {
        try
        {
            return broker.ReadMessages(topic, key, _ => false, TimeSpan.FromSeconds(2));
        }
        catch (ConsumeException error) when (error.Error.Code == ErrorCode.UnknownTopicOrPart)
        {
            return [];
        }
    }

    private static string Header(Message<string, byte[]> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : "";

    private static HealthCheckContext HealthContext() => new()
    {
        Registration = new HealthCheckRegistration("kafka-consumers", _ => null!, HealthStatus.Unhealthy, null),
    };

    /// <summary>Records what it handled and how often it was tried; fails as the test says.</summary>
    internal sealed class RecordingHandler(KafkaConsumerSettings settings, Func<(Message<string, byte[]> Message, int Attempt), Exception?>? fail = null) : IKafkaMessageHandler
    {
        public KafkaConsumerSettings Settings { get; } = settings;

        public ConcurrentDictionary<string, int> Attempts { get; } = new();

        public ConcurrentBag<string> Handled { get; } = [];

        public Task HandleAsync(ConsumeResult<string, byte[]> message, CancellationToken cancellationToken)
        {
            var attempt = Attempts.AddOrUpdate(message.Message.Key, 1, (_, count) => count + 1);
            if (fail?.Invoke((message.Message, attempt)) is { } error)
            {
                throw error;
            }

            Handled.Add(message.Message.Key);
            return Task.CompletedTask;
        }
    }
}
