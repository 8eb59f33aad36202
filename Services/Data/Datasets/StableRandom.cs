namespace MsSwift.Data.Datasets;

/// <summary>
/// A random number generator whose draws are fixed by this file alone: SplitMix64 (Steele, Lea
/// and Flood, 2014; the generator Java's SplittableRandom and xoshiro's seeding use) plus
/// Lemire's unbiased bounded draw. Neither <see cref="HashCode"/> (randomised per process) nor
/// <see cref="Random"/> (whose algorithm a .NET upgrade may change) decides which windows a job
/// trains on, so every process, replica and runtime version serves a job the same data.
/// </summary>
public sealed class StableRandom(ulong seed)
{
    private const ulong Golden = 0x9E3779B97F4A7C15;

    private ulong _state = seed;

    /// <summary>A seed from several fields, each folded in through the mixer so that nearby values (shard 1 vs 2) give unrelated streams.</summary>
    public static ulong DeriveSeed(params ReadOnlySpan<long> fields)
    {
        var seed = 0UL;
        foreach (var field in fields)
        {
            seed = Mix((seed + Golden) ^ (ulong)field);
        }

        return seed;
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64() => Mix(_state += Golden);

    /// <summary>A uniform value in [0, <paramref name="bound"/>), without modulo bias.</summary>
    public long NextInt64(long bound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bound, 1);
        // Lemire (2019): the high half of a 64x64-bit product is uniform once products whose
        // low half falls below 2^64 mod bound are redrawn.
        var range = (ulong)bound;
        var high = Math.BigMul(NextUInt64(), range, out var low);
        if (low < range)
        {
            var threshold = (0 - range) % range;
            while (low < threshold)
            {
                high = Math.BigMul(NextUInt64(), range, out low);
            }
        }

        return (long)high;
    }

    /// <summary>SplitMix64's finaliser (a variant of MurmurHash3's fmix64).</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
