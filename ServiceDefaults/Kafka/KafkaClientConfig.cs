using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>Turns validated <see cref="KafkaOptions"/> into librdkafka client configurations.</summary>
internal static partial class KafkaClientConfig
{
    public static ProducerConfig ForProducer(KafkaOptions options) => new()
    {
        BootstrapServers = options.BootstrapServers,
        ClientId = options.ClientId,
        EnableIdempotence = options.EnableIdempotence,
        Acks = Acks.All,
        MessageTimeoutMs = options.MessageTimeoutMs,
        // Deliver promptly; batching across requests is not worth latency on the request path.
        LingerMs = 1,
    };

    public static ConsumerConfig ForConsumer(KafkaOptions options, string groupId) => new()
    {
        BootstrapServers = options.BootstrapServers,
        ClientId = options.ClientId,
        GroupId = groupId,
        SessionTimeoutMs = options.SessionTimeoutMs,
        // Offsets are committed by the handler once its work is durable: at-least-once delivery.
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
    };

    public static void Log(ILogger logger, LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        LogClientMessage(logger, level, message.Facility, message.Name, message.Message);
    }

    [LoggerMessage(Message = "librdkafka {Facility} {Client}: {Text}")]
    private static partial void LogClientMessage(ILogger logger, LogLevel level, string facility, string client, string text);
}
