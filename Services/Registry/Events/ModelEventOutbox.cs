using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Registry.Storage;
using MsSwift.ServiceDefaults.Kafka;
using StackExchange.Redis;

namespace MsSwift.Registry.Events;

/// <summary>
/// Publishes model events from the Redis outbox to <c>msswift.model.events</c> (keyed by model,
/// so one model's events stay in order). The request that made a change publishes its event at
/// once; this service also sweeps the outbox for events whose publisher died between commit and
/// publish. Delivery is at least once: consumers apply events idempotently.
/// </summary>
public sealed partial class ModelEventOutbox(
    IConnectionMultiplexer redis, KafkaProducer producer, TimeProvider time, ILogger<ModelEventOutbox> logger) : BackgroundService
{
    /// <summary>An event older than this still in the outbox has lost its publisher.</summary>
    public static readonly TimeSpan Orphaned = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    /// <summary>Publishes a committed change's event and takes it off the outbox.</summary>
    public async Task PublishAsync(ModelEvent modelEvent, CancellationToken cancellationToken = default)
    {
        var bytes = modelEvent.ToByteArray();
        await producer.ProduceAsync(KafkaTopics.ModelEvents, modelEvent.Model, bytes, cancellationToken: cancellationToken);
        await redis.GetDatabase().ListRemoveAsync(ModelStore.OutboxKey, bytes, count: 1);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogSweepFailed(logger, error);
            }
        }
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().ListRangeAsync(ModelStore.OutboxKey);
        foreach (var entry in entries)
        {
            var modelEvent = ModelEvent.Parser.ParseFrom((byte[])entry!);
            if (time.GetUtcNow() - modelEvent.OccurredAt.ToDateTimeOffset() < Orphaned)
            {
                continue;
            }

            await PublishAsync(modelEvent, cancellationToken);
            LogRepublished(logger, modelEvent.Type.ToString(), modelEvent.Model, modelEvent.Version);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Published orphaned model event {Type} {Model} {Version} from the outbox")]
    private static partial void LogRepublished(ILogger logger, string type, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model event outbox sweep failed; retrying at the next sweep")]
    private static partial void LogSweepFailed(ILogger logger, Exception error);
}
