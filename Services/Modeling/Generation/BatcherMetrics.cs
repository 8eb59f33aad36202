using System.Diagnostics.Metrics;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// The batcher's instruments, named after vLLM's and Triton's: queue time, time to first token,
/// inter-token latency, tokens generated, executions vs inferences (their ratio is the average
/// batch size) and pending requests. Measurements carry the model and version as tags.
/// </summary>
public sealed class BatcherMetrics(Meter meter)
{
    public const string MeterName = "MsSwift.Inference";

    internal Histogram<double> QueueTime { get; } = meter.CreateHistogram<double>(
        "msswift.inference.queue.duration", "s", "Time a request waited for a batch slot");

    internal Histogram<double> TimeToFirstToken { get; } = meter.CreateHistogram<double>(
        "msswift.inference.time_to_first_token", "s", "Time from arrival to the first generated token");

    internal Histogram<double> InterTokenLatency { get; } = meter.CreateHistogram<double>(
        "msswift.inference.inter_token_latency", "s", "Time between consecutive tokens of one sequence");

    internal Counter<long> TokensGenerated { get; } = meter.CreateCounter<long>(
        "msswift.inference.tokens.generated", "{token}", "Tokens generated");

    internal Counter<long> Executions { get; } = meter.CreateCounter<long>(
        "msswift.inference.executions", "{execution}", "Model executions: prefills and batched decode steps");

    internal Counter<long> Inferences { get; } = meter.CreateCounter<long>(
        "msswift.inference.inferences", "{inference}", "Sequences advanced by those executions; inferences / executions is the average batch size");

    internal UpDownCounter<long> Pending { get; } = meter.CreateUpDownCounter<long>(
        "msswift.inference.requests.pending", "{request}", "Requests queued or generating");
}
