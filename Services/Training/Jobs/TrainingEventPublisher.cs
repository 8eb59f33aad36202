using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Publishes training events on <see cref="KafkaTopics.TrainingEvents"/>, keyed by job id, one
/// at a time in the order they were raised (so a consumer sees a job's events in order). A step
/// never waits for the broker: events queue here and a failed send is retried until it lands or
/// the service stops. The job's status in Redis, not this stream, is the source of truth.
/// </summary>
public sealed partial class TrainingEventPublisher(KafkaProducer producer, TimeProvider time, ILogger<TrainingEventPublisher> logger) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(5);
    private readonly Channel<TrainingEvent> _queue = Channel.CreateUnbounded<TrainingEvent>(new UnboundedChannelOptions { SingleReader = true });

    // Cancelled a grace period after shutdown starts: until then queued events still go out.
    private readonly CancellationTokenSource _sending = new();

    public void Publish(TrainingEventType type, TrainStatus status)
    {
        var queued = _queue.Writer.TryWrite(new TrainingEvent
        {
            EventId = Guid.NewGuid().ToString("N"),
            Type = type,
            JobId = status.JobId,
            Status = status,
            OccurredAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        });
        if (!queued)
        {
            LogDropped(logger, type.ToString(), status.JobId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var trainingEvent in _queue.Reader.ReadAllAsync(_sending.Token))
            {
                await SendAsync(trainingEvent, _sending.Token);
            }
        }
        catch (OperationCanceledException) when (_sending.IsCancellationRequested)
        {
            // The grace period ended; SendAsync logged what was left.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        _sending.CancelAfter(ShutdownGrace);
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _sending.Dispose();
        base.Dispose();
    }

    private async Task SendAsync(TrainingEvent trainingEvent, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await producer.ProduceAsync(KafkaTopics.TrainingEvents, trainingEvent.JobId, trainingEvent.ToByteArray(), cancellationToken: cancellationToken);
                return;
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogRetrying(logger, trainingEvent.Type.ToString(), trainingEvent.JobId, error.Message);
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        LogDropped(logger, trainingEvent.Type.ToString(), trainingEvent.JobId);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing training event {Type} of job {JobId} failed; retrying: {Reason}")]
    private static partial void LogRetrying(ILogger logger, string type, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Training event {Type} of job {JobId} was not published before shutdown")]
    private static partial void LogDropped(ILogger logger, string type, string jobId);
}
