using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Kafka;
using MsSwift.ServiceDefaults.Redis;
using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Publishes training events from the Redis outbox (<see cref="JobStore.OutboxKey"/>, where each
/// status change queued its event in the same script that committed it) to
/// <see cref="KafkaTopics.TrainingEvents"/>, keyed by job id. One coordinator drains at a time
/// (a Redis lock), oldest first, so a job's events stay in order across coordinators; it drains
/// when this coordinator committed an event, and every few seconds for events another one left.
/// Delivery is at least once (a drainer that dies between send and trim leaves them to the next):
/// consumers de-duplicate by event id. A step never waits for the broker.
/// </summary>
public sealed partial class TrainingEventOutbox(
    IConnectionMultiplexer redis, RedisLock locks, KafkaProducer producer, TimeProvider time, ILogger<TrainingEventOutbox> logger) : BackgroundService
{
    private const int BatchSize = 100;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);
    // Short, and extended after every batch: a coordinator killed mid-drain holds the other
    // coordinators' events back until its lease lapses (at 30 s a takeover's events came late).
    private static readonly TimeSpan DrainLease = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _committed = new(0, 1);

    /// <summary>Says an event was committed here: drain now rather than at the next sweep.</summary>
    public void Signal()
    {
        if (_committed.CurrentCount == 0)
        {
            try
            {
                _committed.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var sweep = new CancellationTokenSource(SweepInterval, time);
                using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, sweep.Token);
                await _committed.WaitAsync(either.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The sweep: events another coordinator committed but did not publish.
            }

            try
            {
                await DrainAsync(stoppingToken);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogDrainFailed(logger, error.Message);
            }
        }
    }

    public override void Dispose()
    {
        _committed.Dispose();
        base.Dispose();
    }

    /// <summary>Publishes what the outbox holds, oldest first, trimming what went out; stops at the first failure.</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        await using var lease = await locks.TryAcquireAsync("training:outbox", DrainLease);
        if (lease is null)
        {
            return; // another coordinator is draining
        }

        var database = redis.GetDatabase();
        while (!cancellationToken.IsCancellationRequested)
        {
            var entries = await database.ListRangeAsync(JobStore.OutboxKey, 0, BatchSize - 1);
            if (entries.Length == 0)
            {
                return;
            }

            foreach (var entry in entries)
            {
                var trainingEvent = TrainingEvent.Parser.ParseFrom((byte[])entry!);
                await producer.ProduceAsync(KafkaTopics.TrainingEvents, trainingEvent.JobId, (byte[])entry!, cancellationToken: cancellationToken);
                // By value (each is unique by its event id): should the lease lapse mid-batch, a
                // second drainer may send it again, but neither can remove an event not yet sent.
                await database.ListRemoveAsync(JobStore.OutboxKey, entry, count: 1);
            }

            if (!await lease.ExtendAsync(DrainLease))
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing training events from the outbox failed; retrying at the next sweep: {Reason}")]
    private static partial void LogDrainFailed(ILogger logger, string reason);
}
