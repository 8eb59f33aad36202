using System.Diagnostics.Metrics;
using MsSwift.Training.Jobs;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Workers;

/// <summary>
/// Where a worker's steps spend their time, by phase (pull, data, compute, push), tagged
/// <c>job_id</c> and <c>phase</c> (meter <c>MsSwift.Training</c>): a slow job shows whether it
/// waits on the parameter server, the data service or its own compute.
/// </summary>
public sealed class WorkerMetrics
{
    private readonly Histogram<double> _phase;

    public WorkerMetrics(IMeterFactory meters)
    {
        _phase = meters.Create(WireMetrics.MeterName).CreateHistogram<double>("msswift.training.worker.phase.duration", "s",
            "Wall time of one phase of a worker's step: pull (parameters in), data (batches read), compute (forward and backward), push (gradient out until the step is applied)",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = TrainingMetrics.StepBuckets });
    }

    public void StepCompleted(string jobId, WorkerStepPhases phases)
    {
        Record(jobId, "pull", phases.Pull);
        Record(jobId, "data", phases.Data);
        Record(jobId, "compute", phases.Compute);
        Record(jobId, "push", phases.Push);
    }

    private void Record(string jobId, string phase, TimeSpan duration) =>
        _phase.Record(duration.TotalSeconds, new KeyValuePair<string, object?>(TrainingMetrics.JobTag, jobId), new KeyValuePair<string, object?>("phase", phase));
}
