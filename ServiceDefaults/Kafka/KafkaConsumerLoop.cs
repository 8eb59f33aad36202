using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// The product's one Kafka consume loop, around a small typed <see cref="IKafkaMessageHandler"/>:
/// it subscribes (to topics that may not exist yet), consumes on its own thread, runs up to
/// <see cref="KafkaConsumerSettings.MaxInFlight"/> handlers at once, and commits an offset only
/// once every earlier message of its partition is handled (at-least-once). Broker errors, a
/// restart or a rebalance are logged and waited out with backoff; only a fatal client error
/// stops the loop, and then <see cref="KafkaConsumerHealth"/> makes the service unready. A
/// message whose handling keeps failing goes to the dead-letter topic after a bounded number of
/// attempts, with the reason, so one poison message can neither loop forever nor stall its partition.
/// </summary>
public sealed partial class KafkaConsumerLoop<THandler>(
    THandler handler, KafkaConsumerFactory consumers, KafkaProducer producer, KafkaConsumerHealth health, ILogger<KafkaConsumerLoop<THandler>> logger)
    : BackgroundService where THandler : IKafkaMessageHandler
{
    public const string ErrorHeader = "msswift-error";
    public const string SourceHeader = "msswift-source";
    public const string AttemptsHeader = "msswift-attempts";

    private readonly KafkaConsumerSettings _settings = handler.Settings;
    private readonly ConcurrentQueue<TopicPartitionOffset> _finished = new();
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(5);

    // Signals the consume thread that a handler finished. Never disposed: a handler still running
    // after shutdown may signal it, and it holds no wait handle.
    private readonly SemaphoreSlim _progress = new(0);
    private int _running;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // librdkafka's Consume blocks: give the loop its own thread.
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        var tracker = new CommitTracker();
        Error? fatal = null;
        using var consumer = consumers.Create(_settings.GroupId, builder => builder
            .SetPartitionsRevokedHandler((revoking, partitions) =>
            {
                // Runs on this thread, inside Consume: commit what is finished while the partitions
                // are still ours, so the next owner does not serve it again.
                CommitFinished(revoking, tracker);
                tracker.Revoked(partitions.Select(partition => partition.TopicPartition));
            })
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal)
                {
                    fatal = error;
                }
            }));
        consumer.Subscribe(_settings.Topics);
        health.Running(_settings.GroupId);
        var failures = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                CommitFinished(consumer, tracker);
                if (fatal is { } error)
                {
                    health.Stopped(_settings.GroupId, $"fatal Kafka error {error.Code}: {error.Reason}");
                    LogFatal(logger, _settings.GroupId, error.Code, error.Reason);
                    return;
                }

                if (tracker.InFlight >= _settings.MaxInFlight)
                {
                    // Wait for a handler to finish, then commit and read on (backpressure).
                    _progress.Wait(TimeSpan.FromMilliseconds(50), stoppingToken);
                    continue;
                }

                ConsumeResult<string, byte[]>? result;
                try
                {
                    result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                    failures = 0;
                }
                catch (ConsumeException consumeError) when (!consumeError.Error.IsFatal)
                {
                    // A topic that does not exist yet, a broker that restarts: wait it out.
                    LogConsumeFailed(logger, _settings.GroupId, consumeError.Error.Code, consumeError.Error.Reason);
                    _settings.RetryBackoff.WaitAsync(++failures, TimeProvider.System, stoppingToken).GetAwaiter().GetResult();
                    continue;
                }

                if (result is null || result.IsPartitionEOF)
                {
                    continue;
                }

                tracker.Started(result.TopicPartitionOffset);
                _ = HandleAsync(result, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (KafkaException error)
        {
            health.Stopped(_settings.GroupId, $"Kafka error {error.Error.Code}: {error.Error.Reason}");
            LogFatal(logger, _settings.GroupId, error.Error.Code, error.Error.Reason);
        }
        finally
        {
            // Handlers see the stop and end soon; what they finish in time is committed.
            SpinWait.SpinUntil(() => Volatile.Read(ref _running) == 0, ShutdownGrace);
            CommitFinished(consumer, tracker);
            consumer.Close();
        }
    }

    private void CommitFinished(IConsumer<string, byte[]> consumer, CommitTracker tracker)
    {
        while (_finished.TryDequeue(out var position))
        {
            if (tracker.Finished(position) is { } commit)
            {
                try
                {
                    consumer.Commit([commit]);
                }
                catch (KafkaException error)
                {
                    // Not fatal: a later commit covers this one, or the messages are redelivered.
                    LogCommitFailed(logger, commit.ToString(), error.Error.Reason);
                }
            }
        }
    }

    private async Task HandleAsync(ConsumeResult<string, byte[]> message, CancellationToken stoppingToken)
    {
        Interlocked.Increment(ref _running);
        using var activity = KafkaTelemetry.StartProcess(message, _settings.GroupId);
        try
        {
            await HandleWithRetriesAsync(message, stoppingToken);
            _finished.Enqueue(message.TopicPartitionOffset);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: left uncommitted, the message is redelivered to whoever takes the partition.
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _progress.Release();
        }
    }

    private async Task HandleWithRetriesAsync(ConsumeResult<string, byte[]> message, CancellationToken stoppingToken)
    {
        var position = message.TopicPartitionOffset.ToString();
        for (int attempt = 1, waits = 1; ; waits++)
        {
            try
            {
                await handler.HandleAsync(message, stoppingToken);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                throw;
            }
            catch (PoisonMessageException error)
            {
                await DeadLetterAsync(message, error.Message, attempt, stoppingToken);
                return;
            }
            catch (Exception error) when (KafkaConsumerSettings.IsDependencyFailure(error))
            {
                LogDependencyDown(logger, position, error.Message);
            }
            catch (Exception error)
            {
                if (attempt >= _settings.MaxAttempts)
                {
                    await DeadLetterAsync(message, $"handling failed {attempt} times; last error: {error.GetType().Name}: {error.Message}", attempt, stoppingToken);
                    return;
                }

                LogRetrying(logger, position, attempt, error);
                attempt++;
            }

            if (!await _settings.RetryBackoff.WaitAsync(waits, TimeProvider.System, stoppingToken))
            {
                stoppingToken.ThrowIfCancellationRequested();
            }
        }
    }

    private async Task DeadLetterAsync(ConsumeResult<string, byte[]> message, string reason, int attempts, CancellationToken stoppingToken)
    {
        if (_settings.DeadLetterTopic is not { } topic)
        {
            LogSkipped(logger, message.TopicPartitionOffset.ToString(), reason);
            return;
        }

        var headers = new Headers();
        foreach (var header in message.Message.Headers ?? [])
        {
            headers.Add(header.Key, header.GetValueBytes());
        }

        headers.Add(ErrorHeader, Encoding.UTF8.GetBytes(reason));
        headers.Add(SourceHeader, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{message.Topic}/{message.Partition.Value}@{message.Offset.Value}")));
        headers.Add(AttemptsHeader, Encoding.UTF8.GetBytes(attempts.ToString(CultureInfo.InvariantCulture)));
        // The message is only let go once it is safely in the dead-letter topic: wait out a broker outage.
        for (var wait = 1; ; wait++)
        {
            try
            {
                await producer.ProduceAsync(topic, message.Message.Key ?? "", message.Message.Value ?? [], headers, stoppingToken);
                LogDeadLettered(logger, message.TopicPartitionOffset.ToString(), topic, reason);
                return;
            }
            catch (KafkaException error)
            {
                LogDependencyDown(logger, message.TopicPartitionOffset.ToString(), error.Message);
                if (!await _settings.RetryBackoff.WaitAsync(wait, TimeProvider.System, stoppingToken))
                {
                    stoppingToken.ThrowIfCancellationRequested();
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sent {Position} to {Topic}: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, string position, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped {Position} (no dead-letter topic): {Reason}")]
    private static partial void LogSkipped(ILogger logger, string position, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Handling {Position} failed (attempt {Attempt}); retrying with backoff")]
    private static partial void LogRetrying(ILogger logger, string position, int attempt, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A dependency is unavailable while handling {Position}: {Reason}; retrying with backoff")]
    private static partial void LogDependencyDown(ILogger logger, string position, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consumer group {Group} could not consume: {Code} {Reason}; retrying with backoff")]
    private static partial void LogConsumeFailed(ILogger logger, string group, ErrorCode code, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Consumer group {Group} stopped on a fatal error: {Code} {Reason}")]
    private static partial void LogFatal(ILogger logger, string group, ErrorCode code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit of {Position} failed: {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, string position, string reason);
}
