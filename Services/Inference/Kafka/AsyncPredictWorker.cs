using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;
using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.Inference.Kafka;

/// <summary>
/// The asynchronous predict path: a consumer group over <c>msswift.inference.requests</c>. Each
/// request is served like a gRPC call (many at once, so they batch), its <see cref="PredictResult"/>
/// is published to <c>msswift.inference.results</c> keyed by request id, and only then is its offset
/// committed (in partition order), so a replica that dies loses nothing: its uncommitted requests
/// go to the next owner. Ids already answered are skipped, so a duplicate is answered once.
/// Unreadable messages go to <c>msswift.inference.dlq</c> with the reason.
/// </summary>
internal sealed partial class AsyncPredictWorker(
    KafkaConsumerFactory consumers,
    KafkaProducer producer,
    PredictExecutor executor,
    AnsweredRequests answered,
    ILogger<AsyncPredictWorker> logger) : BackgroundService
{
    public const string ConsumerGroup = "inference";
    public const string ErrorHeader = "msswift-error";
    public const string SourceHeader = "msswift-source";

    // Enough requests in flight to fill batches; beyond it, consuming pauses (backpressure).
    private const int MaxInFlight = 64;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    private readonly ConcurrentQueue<TopicPartitionOffset> _finished = new();
    private readonly ConcurrentDictionary<string, Task> _inFlight = new();
    private readonly ManualResetEventSlim _progress = new(false);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Consume(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Consume(CancellationToken stoppingToken)
    {
        var tracker = new CommitTracker();
        using var consumer = consumers.Create(ConsumerGroup, builder => builder
            .SetPartitionsRevokedHandler((_, partitions) => tracker.Revoked(partitions.Select(partition => partition.TopicPartition))));
        consumer.Subscribe(KafkaTopics.InferenceRequests);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                CommitFinished(consumer, tracker);
                if (tracker.InFlight >= MaxInFlight)
                {
                    // Wait for a request to finish (it sets the event), then commit and read on.
                    _progress.Wait(TimeSpan.FromMilliseconds(50), stoppingToken);
                    _progress.Reset();
                    continue;
                }

                if (consumer.Consume(TimeSpan.FromMilliseconds(50)) is not { } result)
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
        finally
        {
            CommitFinished(consumer, tracker);
            consumer.Close();
        }
    }

    public override void Dispose()
    {
        _progress.Dispose();
        base.Dispose();
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
        using var activity = KafkaTelemetry.StartProcess(message, ConsumerGroup);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await ProcessAsync(message, stoppingToken);
                    _finished.Enqueue(message.TopicPartitionOffset);
                    return;
                }
                catch (Exception error) when (error is not OperationCanceledException)
                {
                    // Redis or the broker is unreachable: retry rather than drop or skip the request.
                    LogRetrying(logger, message.TopicPartitionOffset.ToString(), error);
                    await Task.Delay(RetryDelay, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: left uncommitted, the request is redelivered to whoever takes the partition.
        }
        finally
        {
            _progress.Set();
        }
    }

    private async Task ProcessAsync(ConsumeResult<string, byte[]> message, CancellationToken stoppingToken)
    {
        PredictRequest request;
        try
        {
            request = PredictRequest.Parser.ParseFrom(message.Message.Value ?? []);
        }
        catch (InvalidProtocolBufferException error)
        {
            await DeadLetterAsync(message, $"not a PredictRequest: {error.Message}", stoppingToken);
            return;
        }

        if (string.IsNullOrEmpty(request.RequestId))
        {
            request.RequestId = message.Message.Key ?? "";
        }

        if (string.IsNullOrEmpty(request.RequestId))
        {
            await DeadLetterAsync(message, "request_id is missing and the message has no key", stoppingToken);
            return;
        }

        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inFlight.TryAdd(request.RequestId, mine.Task))
        {
            // The same id is being served right now: it gets one answer, from the first copy.
            await _inFlight.GetValueOrDefault(request.RequestId, Task.CompletedTask);
            return;
        }

        try
        {
            if (await answered.ContainsAsync(request.RequestId))
            {
                return;
            }

            var result = new PredictResult { RequestId = request.RequestId };
            try
            {
                result.Response = await PredictWithRetryAsync(request, stoppingToken);
            }
            catch (PredictException error)
            {
                result.Error = error.Status;
            }

            await producer.ProduceAsync(KafkaTopics.InferenceResults, request.RequestId, result.ToByteArray(), cancellationToken: stoppingToken);
            await answered.MarkAsync(request.RequestId);
        }
        finally
        {
            _inFlight.TryRemove(request.RequestId, out _);
            mine.SetResult();
        }
    }

    /// <summary>A full queue is back-pressure here, not an error: wait for room instead of failing the request.</summary>
    private async Task<PredictResponse> PredictWithRetryAsync(PredictRequest request, CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                return await executor.PredictAsync(request, PredictExecutor.Kafka, stoppingToken);
            }
            catch (PredictException error) when (error.Code == Google.Rpc.Code.ResourceExhausted)
            {
                await Task.Delay(RetryDelay, stoppingToken);
            }
        }
    }

    private async Task DeadLetterAsync(ConsumeResult<string, byte[]> message, string reason, CancellationToken stoppingToken)
    {
        var headers = new Headers();
        foreach (var header in message.Message.Headers ?? [])
        {
            headers.Add(header.Key, header.GetValueBytes());
        }

        headers.Add(ErrorHeader, Encoding.UTF8.GetBytes(reason));
        headers.Add(SourceHeader, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{message.Topic}/{message.Partition.Value}@{message.Offset.Value}")));
        await producer.ProduceAsync(KafkaTopics.InferenceDeadLetters, message.Message.Key ?? "", message.Message.Value ?? [], headers, stoppingToken);
        LogDeadLettered(logger, message.TopicPartitionOffset.ToString(), reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sent {Position} to the dead-letter topic: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, string position, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retrying {Position}")]
    private static partial void LogRetrying(ILogger logger, string position, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit of {Position} failed: {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, string position, string reason);
}
