namespace MsSwift.Training.Workers;

/// <summary>
/// Where one worker step's wall time went: pulling (and decoding) the parameters, reading the
/// shards' batches from the data service, computing the gradient, and pushing it until the
/// parameter server applied the step (which includes waiting for the other workers).
/// </summary>
public readonly record struct WorkerStepPhases(TimeSpan Pull, TimeSpan Data, TimeSpan Compute, TimeSpan Push)
{
    public TimeSpan Total => Pull + Data + Compute + Push;
}
