using Confluent.Kafka;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.Inference.Models;

/// <summary>
/// Follows <c>msswift.model.events</c> in the shared consume loop and hands each event to
/// <see cref="ModelRollout"/>. Every replica reads every event (a group of its own), in order,
/// from the start of the topic; <see cref="ModelReconciler"/> covers what the topic no longer holds.
/// </summary>
internal sealed class ModelEventsHandler(ModelRollout rollout) : IKafkaMessageHandler
{
    public KafkaConsumerSettings Settings { get; } = new($"inference-{Environment.MachineName}-{Guid.NewGuid():N}", [KafkaTopics.ModelEvents]);

    public async Task HandleAsync(ConsumeResult<string, byte[]> message, CancellationToken cancellationToken)
    {
        ModelEvent modelEvent;
        try
        {
            modelEvent = ModelEvent.Parser.ParseFrom(message.Message.Value ?? []);
        }
        catch (InvalidProtocolBufferException error)
        {
            throw new PoisonMessageException($"not a ModelEvent: {error.Message}", error);
        }

        // A change that fails to load is not retried here (it would hold up every later event):
        // reconciliation with the registry retries it with backoff.
        await rollout.ApplyAsync(modelEvent, cancellationToken);
    }
}
