using System.Diagnostics.Metrics;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Progress of the jobs this coordinator leads, tagged <c>job_id</c> (not <c>job</c>, which
/// Prometheus gives every series for its scrape job) (meter <c>MsSwift.Training</c>):
/// step time, training and validation loss, tokens and steps. Dashboards and autoscaling read
/// the Prometheus names the exporter makes from these, so the names are a contract.
/// </summary>
public sealed class TrainingMetrics
{
    public const string JobTag = "job_id";

    // Seconds, from a tiny model's milliseconds to a large one's minutes. The exporter's default
    // boundaries (0, 5, 10, 25, ... 10000) are made for milliseconds: every step would land in one bucket.
    internal static readonly double[] StepBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly Histogram<double> _stepDuration;
    private readonly Gauge<double> _loss;
    private readonly Gauge<double> _evalLoss;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _steps;

    public TrainingMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(WireMetrics.MeterName);
        _stepDuration = meter.CreateHistogram<double>("msswift.training.step.duration", "s", "Wall time of one synchronous training step, from the previous step's apply to this one's",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = StepBuckets });
        _loss = meter.CreateGauge<double>("msswift.training.loss", unit: null, "Training loss of the latest step (mean over the workers)");
        _evalLoss = meter.CreateGauge<double>("msswift.training.eval_loss", unit: null, "Validation loss of the latest evaluation");
        _tokens = meter.CreateCounter<long>("msswift.training.tokens", "{token}", "Tokens trained on");
        _steps = meter.CreateCounter<long>("msswift.training.steps", "{step}", "Training steps applied");
    }

    /// <summary>One applied step; <paramref name="sincePreviousStep"/> is null when there was no previous step to time it from.</summary>
    public void StepApplied(string jobId, double loss, long tokens, TimeSpan? sincePreviousStep)
    {
        var job = new KeyValuePair<string, object?>(JobTag, jobId);
        if (sincePreviousStep is { } duration)
        {
            _stepDuration.Record(duration.TotalSeconds, job);
        }

        _loss.Record(loss, job);
        _tokens.Add(tokens, job);
        _steps.Add(1, job);
    }

    public void Evaluated(string jobId, double loss) => _evalLoss.Record(loss, new KeyValuePair<string, object?>(JobTag, jobId));
}
