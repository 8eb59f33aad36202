using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// Creates consumers that join a consumer group with the service's validated settings. Consumers
/// are not thread-safe: each consume loop owns one and disposes it (after <c>Close()</c>, so the
/// group rebalances at once instead of waiting for the session to time out).
/// </summary>
public sealed class KafkaConsumerFactory(IOptions<KafkaOptions> options, ILoggerFactory loggerFactory)
{
    /// <param name="groupId">The consumer group to join.</param>
    /// <param name="configure">Adds handlers (for example partition revocation) before the consumer is built.</param>
    public IConsumer<string, byte[]> Create(string groupId, Action<ConsumerBuilder<string, byte[]>>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(groupId);
        var logger = loggerFactory.CreateLogger($"{typeof(KafkaConsumerFactory).Namespace}.Consumer.{groupId}");
        var builder = new ConsumerBuilder<string, byte[]>(KafkaClientConfig.ForConsumer(options.Value, groupId))
            .SetLogHandler((_, message) => KafkaClientConfig.Log(logger, message));
        configure?.Invoke(builder);
        return builder.Build();
    }
}
