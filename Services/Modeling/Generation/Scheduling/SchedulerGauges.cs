using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>
/// The scheduler's decisions as observable gauges, named after vLLM's so an autoscaler written for
/// vLLM reads them unchanged (Prometheus: <c>msswift_inference_num_requests_running</c>,
/// <c>msswift_inference_num_requests_waiting</c>, <c>msswift_inference_kv_cache_usage_perc</c>,
/// <c>msswift_inference_batch_size</c>). Every observed engine (one per model version) reports one
/// measurement per gauge, tagged with its model and version.
/// </summary>
internal sealed class SchedulerGauges
{
    private readonly Lock _lock = new();
    private readonly List<Source> _sources = [];

    public SchedulerGauges(Meter meter)
    {
        // No unit on the fraction: the Prometheus exporter would append _ratio to the name.
        meter.CreateObservableGauge("msswift.inference.num_requests_running", () => Read(state => state.Running), "{request}", "Sequences holding a KV cache slot (generating)");
        meter.CreateObservableGauge("msswift.inference.num_requests_waiting", () => Read(state => state.Waiting), "{request}", "Requests queued for a KV cache slot");
        meter.CreateObservableGauge("msswift.inference.kv_cache_usage_perc", () => Read(state => state.KvCacheUsage), unit: null, "Cached positions over the KV cache's capacity, 0 to 1");
        meter.CreateObservableGauge("msswift.inference.batch_size", () => Read(state => state.ChosenBatchSize), "{sequence}", "The batch the scheduler steers to: running and waiting, capped by the latency target");
    }

    public IDisposable Observe(Func<SchedulerState> state, TagList tags)
    {
        var source = new Source(this, state, tags);
        lock (_lock)
        {
            _sources.Add(source);
        }

        return source;
    }

    private List<Measurement<T>> Read<T>(Func<SchedulerState, T> value) where T : struct
    {
        lock (_lock)
        {
            return [.. _sources.Select(source => new Measurement<T>(value(source.State()), source.Tags))];
        }
    }

    private sealed class Source(SchedulerGauges owner, Func<SchedulerState> state, TagList tags) : IDisposable
    {
        public Func<SchedulerState> State { get; } = state;

        public TagList Tags { get; } = tags;

        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._sources.Remove(this);
            }
        }
    }
}
