using System.Diagnostics;
using System.Diagnostics.Metrics;
using MsSwift.Modeling.Generation.Scheduling;

namespace MsSwift.Modeling.Generation;

/// <summary>
/// The batcher's instruments, named after vLLM's and Triton's: queue time, time to first token,
/// inter-token latency, tokens generated, executions vs inferences (their ratio is the average
/// batch size) and pending requests. Measurements carry the model and version as tags.
/// The scheduler's gauges (running, waiting, KV cache use, chosen batch) are read from every
/// engine that is <see cref="Observe">observed</see>, when the exporter collects.
/// </summary>
public sealed class BatcherMetrics(Meter meter)
{

    public const string MeterName = "MsSwift.Inference";

    // Seconds, from a millisecond to a minute. The exporter's default boundaries (0, 5, 10, 25,
    // ... 10000) are made for milliseconds: every latency would land in one bucket.
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };

    internal Histogram<double> QueueTime { get; } = meter.CreateHistogram<double>(
        "msswift.inference.queue.duration", "s", "Time a request waited for a batch slot", tags: null, LatencyBuckets);

    internal Histogram<double> TimeToFirstToken { get; } = meter.CreateHistogram<double>(
        "msswift.inference.time_to_first_token", "s", "Time from arrival to the first generated token", tags: null, LatencyBuckets);

    internal Histogram<double> InterTokenLatency { get; } = meter.CreateHistogram<double>(
        "msswift.inference.inter_token_latency", "s", "Time between consecutive tokens of one sequence", tags: null, LatencyBuckets);

    internal Counter<long> TokensGenerated { get; } = meter.CreateCounter<long>(
        "msswift.inference.tokens.generated", "{token}", "Tokens generated");

    internal Counter<long> Executions { get; } = meter.CreateCounter<long>(
        "msswift.inference.executions", "{execution}", "Model executions: prefills and batched decode steps");

    internal Counter<long> Inferences { get; } = meter.CreateCounter<long>(
        "msswift.inference.inferences", "{inference}", "Sequences advanced by those executions; inferences / executions is the average batch size");

    internal Counter<double> EngineTime { get; } = meter.CreateCounter<double>(
        "msswift.inference.engine.time", "s", "Time the engine spent computing, by phase (msswift.phase: prefill or decode); its rate is the engine's busy share");

    /// <summary>The <c>msswift.phase</c> tag of <see cref="EngineTime"/>.</summary>
    internal static readonly KeyValuePair<string, object?> PrefillPhase = new("msswift.phase", "prefill");

    internal static readonly KeyValuePair<string, object?> DecodePhase = new("msswift.phase", "decode");

    internal UpDownCounter<long> Pending { get; } = meter.CreateUpDownCounter<long>(
        "msswift.inference.requests.pending", "{request}", "Requests queued or generating");

    // The scheduler's gauges, read from each observed engine when the exporter collects.
    private readonly SchedulerGauges _scheduler = new(meter);

    /// <summary>Exports an engine's <see cref="SchedulerState"/> with these tags until the result is disposed.</summary>
    public IDisposable Observe(Func<SchedulerState> state, TagList tags) => _scheduler.Observe(state, tags);

    internal Counter<long> PrefixCacheQueries { get; } = meter.CreateCounter<long>(
        "msswift.inference.prefix_cache.queries", "{token}", "Prompt tokens looked up in the prefix cache (vLLM's prefix_cache_queries)");

    internal Counter<long> PrefixCacheHits { get; } = meter.CreateCounter<long>(
        "msswift.inference.prefix_cache.hits", "{token}", "Prompt tokens whose keys and values came from the prefix cache; hits / queries is the hit rate (vLLM's prefix_cache_hits)");
}
