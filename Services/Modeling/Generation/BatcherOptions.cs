using MsSwift.Modeling.Generation.Scheduling;

namespace MsSwift.Modeling.Generation;

/// <summary>The batching knobs, named after Triton's dynamic batcher.</summary>
public sealed record BatcherOptions
{
    /// <summary>Sequences decoded together in one step (KV-cache slots).</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>Requests waiting for a slot; one more is refused at once (admission control).</summary>
    public int MaxQueueSize { get; init; } = 256;

    /// <summary>
    /// How long an idle engine waits for more requests before starting a batch. 0 (the default)
    /// starts at once, so batching never slows a lone request; requests that arrive later join
    /// the running batch between decode steps anyway.
    /// </summary>
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// True (the default): the <see cref="AdaptiveScheduler"/> picks the batch and when to prefill
    /// from measured step times and load, within <see cref="MaxBatchSize"/> slots. False: the fixed
    /// policy, which fills up to <see cref="MaxBatchSize"/> and, under load, waits until a quarter
    /// of the slots are free before prefilling (kept as the baseline and a way back).
    /// </summary>
    public bool Adaptive { get; init; } = true;

    /// <summary>Latency targets the adaptive scheduler admits by (none by default).</summary>
    public LatencyTargets Targets { get; init; } = LatencyTargets.None;

    /// <summary>
    /// Bytes of prompt-prefix keys and values kept for reuse (<see cref="Gpt.PrefixCache"/>);
    /// 0 turns prefix caching off. 64 MiB holds about 900 tokens of GPT-2 small, 8000 of the benchmark model.
    /// </summary>
    public long PrefixCacheBytes { get; init; } = DefaultPrefixCacheBytes;

    public const long DefaultPrefixCacheBytes = 64L << 20;

    /// <summary>The largest <see cref="PrefixCacheBytes"/> accepted (1 TiB).</summary>
    public const long MaxPrefixCacheBytes = 1L << 40;

    public BatcherOptions Validate()
    {
        if (MaxBatchSize is < 1 or > 1024)
        {
            throw new ArgumentException($"MaxBatchSize must be between 1 and 1024, got {MaxBatchSize}", nameof(MaxBatchSize));
        }

        if (MaxQueueSize is < 1 or > 1_000_000)
        {
            throw new ArgumentException($"MaxQueueSize must be between 1 and 1000000, got {MaxQueueSize}", nameof(MaxQueueSize));
        }

        if (MaxQueueDelay < TimeSpan.Zero || MaxQueueDelay > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentException($"MaxQueueDelay must be between 0 and 10 s, got {MaxQueueDelay}", nameof(MaxQueueDelay));
        }

        Targets.Validate();

        if (PrefixCacheBytes is < 0 or > MaxPrefixCacheBytes)
        {
            throw new ArgumentException($"PrefixCacheBytes must be between 0 and {MaxPrefixCacheBytes}, got {PrefixCacheBytes}", nameof(PrefixCacheBytes));
        }

        return this;
    }
}

/// <summary>The batcher's queue is full: the caller should retry later (gRPC ResourceExhausted, HTTP 429).</summary>
public sealed class QueueFullException(int capacity)
    : Exception($"the generation queue is full ({capacity} requests waiting); retry later")
{
    public int Capacity { get; } = capacity;
}
