namespace MsSwift.Data.Datasets;

/// <summary>
/// Which token windows a shard gets, deterministically: the stream is cut into windows of
/// window + 1 tokens at a stride of window, and window j belongs to shard j mod count. Random
/// windows (augmentation) start anywhere inside the shard's own stretch of the stream, drawn
/// from the seed, so shards never share tokens and a rerun draws the same windows.
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

        for (var position = firstBatch * batchSize; position < (firstBatch + batches) * batchSize; position++)
        {
            yield return (shard + position % shardWindows * count) * window;
        }
    }

    /// <summary>Start offsets of <paramref name="draws"/> random windows inside the shard's contiguous stretch.</summary>
    public static IEnumerable<long> RandomWindows(long tokens, int window, int shard, int count, int draws, long seed)
    {
        Validate(window, shard, count);
        var stretch = tokens / count;
        var start = shard * stretch;
        if (stretch < window + 1)
        {
            yield break;
        }

        var random = new Random(HashCode.Combine(seed, shard, count));
        for (var i = 0; i < draws; i++)
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
