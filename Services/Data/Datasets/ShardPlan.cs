namespace MsSwift.Data.Datasets;

/// <summary>
/// Which token windows a shard gets, deterministically: the stream is cut into windows of
/// window + 1 tokens at a stride of window, and window j belongs to shard j mod count. Random
/// windows (augmentation) start anywhere inside the shard's own stretch of the stream, drawn
/// from the seed, so shards never share tokens and a rerun draws the same windows. Offsets and
/// counts are 64-bit: a stream may hold more than 2^31 tokens.
/// </summary>
public static class ShardPlan
{
    /// <summary>Start offsets of the shard's fixed windows, in order.</summary>
    public static IEnumerable<long> FixedWindows(long tokens, int window, int shard, int count)
    {
        Validate(window, shard, count);
        var windows = tokens > window ? (tokens - 1) / window : 0;
        for (var j = (long)shard; j < windows; j += count)
        {
            yield return j * window;
        }
    }

    /// <summary>
    /// Start offsets of <paramref name="batches"/> batches of <paramref name="batchSize"/> windows
    /// from batch <paramref name="firstBatch"/> on, of the shard's fixed windows repeated epoch
    /// after epoch: batch b holds windows b·batchSize .. (b+1)·batchSize - 1 of that endless sequence.
    /// </summary>
    public static IEnumerable<long> CyclicWindows(long tokens, int window, int shard, int count, int batchSize, long firstBatch, int batches)
    {
        Validate(window, shard, count);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(firstBatch);
        var windows = tokens > window ? (tokens - 1) / window : 0;
        var shardWindows = windows > shard ? (windows - shard + count - 1) / count : 0;
        if (shardWindows == 0)
        {
            yield break;
        }

        // Int128: first_batch comes from the caller and may be near 2^63; the product must not wrap.
        var first = (Int128)firstBatch * batchSize;
        var end = first + (Int128)batches * batchSize;
        for (var position = first; position < end; position++)
        {
            yield return (shard + (long)(position % shardWindows) * count) * window;
        }
    }

    /// <summary>
    /// Start offsets of <paramref name="draws"/> random windows inside the shard's contiguous
    /// stretch: uniform over its stretch - window start offsets, from a <see cref="StableRandom"/>
    /// seeded by (seed, shard, count). The same request draws the same windows in any process.
    /// </summary>
    public static IEnumerable<long> RandomWindows(long tokens, int window, int shard, int count, long draws, long seed)
    {
        Validate(window, shard, count);
        ArgumentOutOfRangeException.ThrowIfNegative(draws);
        var stretch = tokens / count;
        var start = shard * stretch;
        if (stretch < window + 1)
        {
            yield break;
        }

        var random = new StableRandom(StableRandom.DeriveSeed(seed, shard, count));
        for (long i = 0; i < draws; i++)
        {
            yield return start + random.NextInt64(stretch - window);
        }
    }

    private static void Validate(int window, int shard, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (shard < 0 || shard >= count)
        {
            throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} is not in [0, {count})");
        }
    }
}
