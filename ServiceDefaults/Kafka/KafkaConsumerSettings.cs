using Confluent.Kafka;
using StackExchange.Redis;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>How one <see cref="KafkaConsumerLoop{THandler}"/> consumes: its group, topics, concurrency and retry rules.</summary>
/// <param name="GroupId">The consumer group.</param>
/// <param name="Topics">Topics to subscribe to; they need not exist yet.</param>
public sealed record KafkaConsumerSettings(string GroupId, IReadOnlyList<string> Topics)
{
    /// <summary>Messages handled at once; 1 handles each partition strictly in order.</summary>
    public int MaxInFlight { get; init; } = 1;

    /// <summary>Handling attempts before a message goes to <see cref="DeadLetterTopic"/> (failures of a dependency do not count).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Where a message goes after <see cref="MaxAttempts"/> or when it is unreadable; null logs and skips it.</summary>
    public string? DeadLetterTopic { get; init; }

    public Backoff RetryBackoff { get; init; } = Backoff.Dependency;

    /// <summary>
    /// A dependency that is down (broker, Redis, a timeout) is not the message's fault: such
    /// failures are retried with backoff for as long as they last and never dead-letter a message.
    /// </summary>
    public static bool IsDependencyFailure(Exception error) =>
        error is KafkaException or RedisException or TimeoutException
        || error.InnerException is { } inner && IsDependencyFailure(inner);
}

/// <summary>Handles one message of a <see cref="KafkaConsumerLoop{THandler}"/>; throwing retries it (bounded) or dead-letters it.</summary>
public interface IKafkaMessageHandler
{
    KafkaConsumerSettings Settings { get; }

    Task HandleAsync(ConsumeResult<string, byte[]> message, CancellationToken cancellationToken);
}

/// <summary>A message no retry can fix (unreadable, missing what it must carry): dead-lettered at once with this reason.</summary>
public sealed class PoisonMessageException(string reason, Exception? inner = null) : Exception(reason, inner);
