namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>One engine's load and its scheduler's choice, as exported to the autoscaler.</summary>
/// <param name="Running">Sequences holding a KV slot (vLLM's num_requests_running).</param>
/// <param name="Waiting">Requests queued for a slot (vLLM's num_requests_waiting).</param>
/// <param name="KvCacheUsage">Cached positions over the cache's capacity (slots x context), 0 to 1 (vLLM's kv_cache_usage_perc).</param>
/// <param name="ChosenBatchSize">The batch the scheduler is steering to (<see cref="SchedulerDecision.ChosenBatchSize"/>).</param>
public sealed record SchedulerState(int Running, int Waiting, double KvCacheUsage, int ChosenBatchSize)
{
    public static readonly SchedulerState Idle = new(0, 0, 0, 0);
}
