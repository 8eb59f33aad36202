using Confluent.Kafka;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;
using MsSwift.ServiceDefaults;
using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.Inference.Kafka;

/// <summary>
/// The asynchronous predict path: <c>msswift.inference.requests</c> in the shared consume loop.
/// Each request is served like a gRPC call (many at once, so they batch) and its
/// <see cref="PredictResult"/> goes to <c>msswift.inference.results</c> keyed by request id; the
/// loop commits only afterwards, so a replica that dies loses nothing. <see cref="RequestLedger"/>
/// makes each id served once: a copy gets the stored answer again. Unreadable messages and
/// messages without an id are dead-lettered to <c>msswift.inference.dlq</c> with the reason.
/// </summary>
internal sealed partial class AsyncPredictHandler(
    KafkaProducer producer, PredictExecutor executor, RequestLedger ledger, ILogger<AsyncPredictHandler> logger) : IKafkaMessageHandler
{
    public const string ConsumerGroup = KafkaTopics.InferenceConsumerGroup;

    /// <summary>On a result that repeats a stored answer (the id was asked before) rather than a new generation.</summary>
    public const string RepeatHeader = "msswift-repeat";

    // Enough requests in flight to fill batches; beyond it, consuming pauses (backpressure).
    private const int MaxInFlight = 64;
    private static readonly TimeSpan ClaimPoll = TimeSpan.FromMilliseconds(200);
    // How long a version that is full or restarting is waited for before the caller gets its error.
    private static readonly TimeSpan BusyPatience = TimeSpan.FromMinutes(2);

    private readonly string _owner = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    public KafkaConsumerSettings Settings { get; } = new(ConsumerGroup, [KafkaTopics.InferenceRequests])
    {
        MaxInFlight = MaxInFlight,
        DeadLetterTopic = KafkaTopics.InferenceDeadLetters,
    };

    public async Task HandleAsync(ConsumeResult<string, byte[]> message, CancellationToken cancellationToken)
    {
        PredictRequest request;
        try
        {
            request = PredictRequest.Parser.ParseFrom(message.Message.Value ?? []);
        }
        catch (InvalidProtocolBufferException error)
        {
            throw new PoisonMessageException($"not a PredictRequest: {error.Message}", error);
        }

        if (string.IsNullOrEmpty(request.RequestId))
        {
            request.RequestId = message.Message.Key ?? "";
        }

        if (string.IsNullOrEmpty(request.RequestId))
        {
            throw new PoisonMessageException("request_id is missing and the message has no key");
        }

        // The claim belongs to this message, not just this replica: a second copy arriving here
        // waits for the first, while a retry of this same message takes its own claim back.
        var owner = $"{_owner}:{message.TopicPartitionOffset}";
        var answer = await ClaimOrAnswerAsync(request.RequestId, owner, cancellationToken);
        Headers? headers = null;
        if (answer is not null)
        {
            headers = new Headers { { RepeatHeader, "true"u8.ToArray() } };
            LogRepeated(logger, request.RequestId);
        }
        else
        {
            answer = await ServeAndStoreAsync(request, owner, cancellationToken);
        }

        await producer.ProduceAsync(KafkaTopics.InferenceResults, request.RequestId, answer, headers, cancellationToken);
    }

    /// <summary>Null once this replica holds the request; the stored answer when it was answered already.</summary>
    private async Task<byte[]?> ClaimOrAnswerAsync(string requestId, string owner, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (answer, claimed) = await ledger.ClaimAsync(requestId, owner);
            if (answer is not null || claimed)
            {
                return answer;
            }

            // Another replica serves this id now: its answer, or its lapsed lease, ends the wait.
            await Task.Delay(ClaimPoll, cancellationToken);
        }
    }

    /// <summary>
    /// Generates the answer and stores it before it is published: a crash in between leaves an
    /// answer to republish, never a second generation. A store that fails because Redis is away is
    /// retried with the answer in hand rather than generated again.
    /// </summary>
    private async Task<byte[]> ServeAndStoreAsync(PredictRequest request, string owner, CancellationToken cancellationToken)
    {
        byte[] generated;
        try
        {
            generated = (await ServeAsync(request, owner, cancellationToken)).ToByteArray();
        }
        catch (Exception error) when (!KafkaConsumerSettings.IsDependencyFailure(error))
        {
            // Let the next attempt (or the next owner) take it at once rather than after the lease.
            await ReleaseQuietlyAsync(request.RequestId, owner);
            throw;
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await ledger.StoreAnswerAsync(request.RequestId, owner, generated);
            }
            catch (Exception error) when (KafkaConsumerSettings.IsDependencyFailure(error) && !cancellationToken.IsCancellationRequested)
            {
                LogStoreRetry(logger, request.RequestId, error.Message);
                await Backoff.Dependency.WaitAsync(attempt, TimeProvider.System, cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    private async Task ReleaseQuietlyAsync(string requestId, string owner)
    {
        try
        {
            await ledger.ReleaseAsync(requestId, owner).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception error) when (KafkaConsumerSettings.IsDependencyFailure(error))
        {
            // Redis is away: the lease lapses by itself.
        }
    }

    private async Task<PredictResult> ServeAsync(PredictRequest request, string owner, CancellationToken cancellationToken)
    {
        using var serving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewWhileServingAsync(request.RequestId, owner, serving.Token);
        try
        {
            var result = new PredictResult { RequestId = request.RequestId };
            try
            {
                result.Response = await PredictPatientlyAsync(request, cancellationToken);
            }
            catch (PredictException error)
            {
                result.Error = error.Status;
            }

            return result;
        }
        finally
        {
            await serving.CancelAsync();
            await renewal;
        }
    }

    /// <summary>
    /// Keeps the claim while a long generation runs. A Redis outage is waited out (the lease has
    /// time to spare); only a claim that is no longer ours ends the renewal, and that is logged,
    /// because another replica may then serve the request too (the first answer stored wins).
    /// </summary>
    private async Task RenewWhileServingAsync(string requestId, string owner, CancellationToken cancellationToken)
    {
        try
        {
            var failures = 0;
            while (true)
            {
                await Task.Delay(failures == 0 ? ledger.Lease / 3 : Backoff.Dependency.Delay(failures), cancellationToken);
                try
                {
                    if (!await ledger.RenewAsync(requestId, owner))
                    {
                        LogLeaseLost(logger, requestId);
                        return;
                    }

                    failures = 0;
                }
                catch (Exception error) when (KafkaConsumerSettings.IsDependencyFailure(error))
                {
                    failures++;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A full queue or a restarting version is back-pressure here: wait for it (with backoff, for a while) instead of failing.</summary>
    private async Task<PredictResponse> PredictPatientlyAsync(PredictRequest request, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // The gateway names each request "{key name}/{caller's id}": the key scopes its prefix-cache entries.
                var caller = request.RequestId.IndexOf('/', StringComparison.Ordinal) is var slash and > 0 ? request.RequestId[..slash] : null;
                return await executor.PredictAsync(request, PredictExecutor.Kafka, cancellationToken, caller: caller);
            }
            catch (PredictException error) when (error.Code is Google.Rpc.Code.ResourceExhausted or Google.Rpc.Code.Unavailable
                && TimeProvider.System.GetElapsedTime(started) < BusyPatience)
            {
                await Backoff.Dependency.WaitAsync(attempt, TimeProvider.System, cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} was answered before; republished its stored answer")]
    private static partial void LogRepeated(ILogger logger, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing the answer to {RequestId} failed ({Reason}); retrying with the answer in hand")]
    private static partial void LogStoreRetry(ILogger logger, string requestId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The claim on request {RequestId} lapsed while it was served; another replica may serve it too")]
    private static partial void LogLeaseLost(ILogger logger, string requestId);
}
