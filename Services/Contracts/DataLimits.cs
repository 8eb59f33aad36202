namespace MsSwift.Contracts;

/// <summary>Limits of the data service that its callers check too, so a request is refused where it is made.</summary>
public static class DataLimits
{
    /// <summary>The most tokens one streamed batch may hold: batch_size x (window + 1).</summary>
    public const int MaxBatchTokens = 1 << 20;
}
