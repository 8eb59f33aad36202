using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.Inference.Models;

/// <summary>
/// Follows <c>msswift.model.events</c> and applies them to this replica's <see cref="ModelCatalog"/>:
/// a promotion or roll-back loads the version beside the current one, switches to it atomically,
/// then unloads the old one once its requests have finished. A version that fails to load leaves
/// the current one serving. Every replica reads every event (its own consumer group), from the
/// start of the topic, so a new replica replays the history to the current state.
/// </summary>
internal sealed partial class ModelEventsConsumer(
    KafkaConsumerFactory consumers, ModelCatalog catalog, ILogger<ModelEventsConsumer> logger) : BackgroundService
{
    private readonly string _group = $"inference-{Environment.MachineName}-{Guid.NewGuid():N}";

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // librdkafka's Consume blocks: give the loop its own thread.
        Task.Factory.StartNew(() => Consume(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task Consume(CancellationToken stoppingToken)
    {
        using var consumer = consumers.Create(_group);
        consumer.Subscribe(KafkaTopics.ModelEvents);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var result = consumer.Consume(stoppingToken);
                using var activity = KafkaTelemetry.StartProcess(result, _group);
                ModelEvent modelEvent;
                try
                {
                    modelEvent = ModelEvent.Parser.ParseFrom(result.Message.Value);
                }
                catch (InvalidProtocolBufferException error)
                {
                    LogUnreadable(logger, result.TopicPartitionOffset.ToString(), error.Message);
                    continue;
                }

                await ApplyAsync(modelEvent, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            consumer.Close();
        }
    }

    internal async Task ApplyAsync(ModelEvent modelEvent, CancellationToken cancellationToken)
    {
        var type = modelEvent.Type.ToString();
        try
        {
            switch (modelEvent.Type)
            {
                case ModelEventType.Promoted or ModelEventType.RolledBack:
                    await catalog.LoadAsync(modelEvent.Model, modelEvent.Version, modelEvent.Checkpoint, cancellationToken);
                    if (catalog.Promote(modelEvent.Model, modelEvent.Version) is { } previous)
                    {
                        await catalog.UnloadAsync(modelEvent.Model, previous);
                    }

                    break;
                case ModelEventType.CanarySet when modelEvent.CanaryPercent > 0:
                    await catalog.LoadAsync(modelEvent.Model, modelEvent.Version, modelEvent.Checkpoint, cancellationToken);
                    break;
                case ModelEventType.CanarySet when !catalog.IsProduction(modelEvent.Model, modelEvent.Version):
                    // Canary cleared: the version stops getting traffic, so free it.
                    await catalog.UnloadAsync(modelEvent.Model, modelEvent.Version);
                    break;
                case ModelEventType.Archived or ModelEventType.Deleted:
                    await catalog.UnloadAsync(modelEvent.Model, modelEvent.Version);
                    break;
            }

            LogApplied(logger, type, modelEvent.Model, modelEvent.Version);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            LogNotApplied(logger, type, modelEvent.Model, modelEvent.Version, error);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied model event {Type} {Model} {Version}")]
    private static partial void LogApplied(ILogger logger, string type, string model, string version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Model event {Type} {Model} {Version} not applied; the current version keeps serving")]
    private static partial void LogNotApplied(ILogger logger, string type, string model, string version, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped an unreadable model event at {Position}: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string position, string reason);
}
