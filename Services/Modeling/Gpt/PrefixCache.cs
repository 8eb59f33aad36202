using static TorchSharp.torch;

namespace MsSwift.Modeling.Gpt;

/// <summary>
/// Automatic prefix caching (vLLM's idea): the keys and values of prompt prefixes, in blocks of
/// <see cref="BlockTokens"/> tokens, so a request that starts like an earlier one (a system
/// prompt, a chat history) copies them instead of computing them again. A block is found by a
/// chained hash of its tokens and every token before it, and its own tokens and its parent's hash
/// are compared on every hit, so a hash collision is a miss, never somebody else's keys.
/// The pool is bounded in bytes and evicts the least recently used block first; a path is
/// touched from its last block to its first, so a prefix's later blocks go before its start.
/// Keys depend on every earlier token and position only, not on the batch a prompt was computed
/// in, so a hit gives what computing the prefix would. A scope (<see cref="Root"/>) starts each
/// chain, so prompts of different scopes never share a block (vLLM's cache salt).
/// Not thread-safe: the engine thread owns it.
/// </summary>
public sealed class PrefixCache : IDisposable
{
    /// <summary>Tokens per block (vLLM's default block size).</summary>
    public const int BlockTokens = 16;

    private readonly GptConfig _config;
    private readonly Dictionary<ulong, Block> _blocks = [];
    private readonly LinkedList<Block> _recency = new(); // most recently used first

    /// <param name="config">The model's shape.</param>
    /// <param name="maxBytes">The pool's bound; 0 keeps nothing.</param>
    /// <param name="dtype">The model's dtype (blocks live where the prefill that computed them ran).</param>
    public PrefixCache(GptConfig config, long maxBytes, ScalarType dtype)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        _config = config;
        MaxBytes = maxBytes;
        using var probe = empty(1, dtype: dtype);
        BytesPerBlock = 2L * config.Layers * config.Heads * BlockTokens * config.HeadWidth * probe.ElementSize;
    }

    public long MaxBytes { get; }

    /// <summary>Keys and values of one block, every layer.</summary>
    public long BytesPerBlock { get; }

    public int Blocks => _blocks.Count;

    public long Bytes => _blocks.Count * BytesPerBlock;

    /// <summary>The hash every chain of <paramref name="scope"/> starts from: 0 (the empty prefix's) without a scope.</summary>
    public static ulong Root(string? scope)
    {
        if (scope is null)
        {
            return 0;
        }

        var hash = Mix(0x5AFE5C0DE5A17UL ^ (ulong)scope.Length);
        foreach (var character in scope)
        {
            hash = Mix(hash ^ character);
        }

        return hash == 0 ? 1 : hash;
    }

    /// <summary>
    /// The cached blocks that start <paramref name="tokens"/> in <paramref name="root"/>'s scope, at
    /// most <paramref name="limit"/> tokens' worth, in order; they are marked as just used and stay
    /// valid until the next <see cref="Store"/>.
    /// </summary>
    internal IReadOnlyList<Block> Match(IReadOnlyList<int> tokens, int limit, ulong root = 0)
    {
        var path = new List<Block>();
        var parent = root;
        for (var start = 0; start + BlockTokens <= Math.Min(limit, tokens.Count); start += BlockTokens)
        {
            var hash = Chain(parent, tokens, start);
            if (!_blocks.TryGetValue(hash, out var block) || !block.Holds(parent, tokens, start))
            {
                break;
            }

            path.Add(block);
            parent = hash;
        }

        for (var i = path.Count - 1; i >= 0; i--)
        {
            Touch(path[i]);
        }

        return path;
    }

    /// <summary>Copies the first <paramref name="count"/> positions of <paramref name="path"/> into <paramref name="cache"/>'s row from <paramref name="position"/> on.</summary>
    internal void CopyInto(IReadOnlyList<Block> path, int count, KvCache cache, int row, int position)
    {
        // One concatenation of the blocks, then one write per layer: a write per block and layer
        // costs more in operator dispatch than the bytes it moves at these sizes.
        using var scope = NewDisposeScope();
        var blocks = (count + BlockTokens - 1) / BlockTokens;
        var joined = blocks == 1 ? path[0].Keys : cat(path.Take(blocks).Select(block => block.Keys).ToList(), 2);
        for (var layer = 0; layer < _config.Layers; layer++)
        {
            cache.Write(layer, row, position, joined[2 * layer].narrow(1, 0, count), joined[2 * layer + 1].narrow(1, 0, count));
        }
    }

    /// <summary>
    /// Keeps the full blocks of <paramref name="tokens"/>, whose keys and values are at
    /// <paramref name="cache"/>'s row from <paramref name="position"/> on, in <paramref name="root"/>'s
    /// scope (blocks already held are only touched).
    /// </summary>
    internal void Store(IReadOnlyList<int> tokens, KvCache cache, int row, int position, ulong root = 0)
    {
        if (BytesPerBlock > MaxBytes)
        {
            return;
        }

        var parent = root;
        var path = new List<Block>();
        for (var start = 0; start + BlockTokens <= tokens.Count; start += BlockTokens)
        {
            var hash = Chain(parent, tokens, start);
            if (_blocks.TryGetValue(hash, out var block))
            {
                if (!block.Holds(parent, tokens, start))
                {
                    break; // a collision: keep the block that is there, cache nothing longer
                }
            }
            else
            {
                while (Bytes + BytesPerBlock > MaxBytes && _recency.Last is { } oldest)
                {
                    Evict(oldest.Value);
                }

                block = new Block(hash, parent, tokens.Skip(start).Take(BlockTokens).ToArray(), Copy(cache, row, position + start));
                _blocks[hash] = block;
                block.Node = _recency.AddFirst(block);
            }

            path.Add(block);
            parent = hash;
        }

        for (var i = path.Count - 1; i >= 0; i--)
        {
            Touch(path[i]);
        }
    }

    private Tensor Copy(KvCache cache, int row, int position)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (var layer = 0; layer < _config.Layers; layer++)
        {
            var (keys, values) = cache.Read(layer, row, position, BlockTokens);
            parts.Add(keys);
            parts.Add(values);
        }

        return stack(parts).DetachFromDisposeScope(); // the pool owns it until eviction
    }

    private void Touch(Block block)
    {
        if (block.Node is { } node && node.List is not null)
        {
            _recency.Remove(node);
            _recency.AddFirst(node);
        }
    }

    private void Evict(Block block)
    {
        _recency.Remove(block.Node!);
        _blocks.Remove(block.Hash);
        block.Keys.Dispose();
    }

    /// <summary>A 64-bit hash of the block at <paramref name="start"/> and of everything before it (through <paramref name="parent"/>).</summary>
    private static ulong Chain(ulong parent, IReadOnlyList<int> tokens, int start)
    {
        var hash = Mix(parent ^ 0x9E3779B97F4A7C15UL);
        for (var i = start; i < start + BlockTokens; i++)
        {
            hash = Mix(hash ^ (uint)tokens[i]);
        }

        return hash == 0 ? 1 : hash; // 0 is the empty prefix's
    }

    /// <summary>SplitMix64's finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose()
    {
        foreach (var block in _blocks.Values)
        {
            block.Keys.Dispose();
        }

        _blocks.Clear();
        _recency.Clear();
    }

    /// <summary>One block: keys and values [2 x layers, heads, BlockTokens, headWidth] (keys of layer l at 2l, values at 2l + 1).</summary>
    internal sealed class Block(ulong hash, ulong parent, int[] tokens, Tensor keys)
    {
        public ulong Hash { get; } = hash;

        public Tensor Keys { get; } = keys;

        public LinkedListNode<Block>? Node { get; set; }

        public bool Holds(ulong parentHash, IReadOnlyList<int> prompt, int start)
        {
            if (parentHash != parent)
            {
                return false;
            }

            for (var i = 0; i < tokens.Length; i++)
            {
                if (tokens[i] != prompt[start + i])
                {
                    return false;
                }
            }

            return true;
        }
    }
}
