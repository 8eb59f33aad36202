namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>
/// Per-model latency targets the scheduler admits by; null leaves it free to maximise throughput.
/// </summary>
public sealed record LatencyTargets
{
    public static readonly LatencyTargets None = new();

    /// <summary>
    /// The longest a request should wait for its first token: a waiting request is prefilled,
    /// even into a busy batch, before the next decode step would carry it past this.
    /// </summary>
    public TimeSpan? MaxTimeToFirstToken { get; init; }

    /// <summary>
    /// The time between two tokens of one sequence to stay under: the batch is capped at the
    /// largest size whose measured step time keeps to it, and prefills are split to fit it.
    /// </summary>
    public TimeSpan? TargetInterTokenLatency { get; init; }

    public LatencyTargets Validate()
    {
        Check(MaxTimeToFirstToken, nameof(MaxTimeToFirstToken));
        Check(TargetInterTokenLatency, nameof(TargetInterTokenLatency));
        return this;
    }

    private static void Check(TimeSpan? value, string name)
    {
        if (value is { } target && (target <= TimeSpan.Zero || target > TimeSpan.FromMinutes(10)))
        {
            throw new ArgumentException($"{name} must be above 0 and at most 10 minutes, got {target}", name);
        }
    }
}
