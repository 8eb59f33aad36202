namespace MsSwift.ServiceDefaults;

/// <summary>
/// Exponential backoff with "equal jitter" (each wait is uniform in [delay/2, delay]), doubling up to
/// <see cref="Max"/>: retries of a dependency that is down spread out instead of arriving as a storm.
/// </summary>
public sealed record Backoff(TimeSpan Initial, TimeSpan Max)
{
    /// <summary>200 ms doubling to 30 s: for reconnecting to Kafka, Redis or a checkpoint store.</summary>
    public static readonly Backoff Dependency = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));

    /// <summary>The wait before retry <paramref name="attempt"/> (1 for the first retry).</summary>
    public TimeSpan Delay(int attempt)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var ceiling = Math.Min(Max.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + Random.Shared.NextDouble() / 2));
    }

    /// <summary>Waits before retry <paramref name="attempt"/>; false (instead of throwing) once <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task<bool> WaitAsync(int attempt, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Delay(attempt), time, cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
