using MsSwift.Contracts.V1;

namespace MsSwift.Training.Jobs;

/// <summary>
/// The live status of one job this coordinator leads. Steps, checkpoints and evaluations change
/// it from different threads; every change is applied under one lock, then saved to Redis and
/// published as a training event in that same order (Redis applies one connection's commands in
/// the order they were issued), so the stored status never goes backwards.
/// </summary>
public sealed class JobProgress(TrainStatus status, JobRecords records, TrainingEventPublisher events)
{
    private readonly Lock _gate = new();

    public string JobId => status.JobId;

    public TrainStatus Snapshot()
    {
        lock (_gate)
        {
            return status.Clone();
        }
    }

    /// <summary>Applies <paramref name="change"/>, saves the status and, with a <paramref name="type"/>, publishes the event.</summary>
    public Task UpdateAsync(TrainingEventType? type, Action<TrainStatus> change)
    {
        lock (_gate)
        {
            change(status);
            var snapshot = status.Clone();
            if (type is { } eventType)
            {
                events.Publish(eventType, snapshot);
            }

            return records.SaveStatusAsync(snapshot);
        }
    }
}
