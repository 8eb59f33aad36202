using static TorchSharp.torch;

namespace MsSwift.Modeling.Gpt;

/// <summary>
/// Keys and values of every layer for a batch of sequences, preallocated to the context length
/// so each decode step writes one position instead of re-computing the prefix.
/// Sequences of different lengths are left-padded: <see cref="PadLengths"/> says how many leading
/// positions of each row are padding that no real token may attend to.
/// </summary>
public sealed class KvCache : IAttentionCache, IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    /// <param name="config">The model's shape (layers, heads, head width, context length).</param>
    /// <param name="batchSize">Rows (sequences).</param>
    /// <param name="device">Where the keys and values live: the model's device.</param>
    /// <param name="dtype">The model's dtype.</param>
    /// <param name="padLengths">Leading padding positions of each row (none by default).</param>
    /// <param name="capacity">
    /// Positions to hold, at most the context length (the default). A cache used only for a
    /// prefill needs just the prompt's: allocating the whole context for every row made a 16-row
    /// prefill about four times slower than the prefill itself.
    /// </param>
    public KvCache(GptConfig config, long batchSize, Device device, ScalarType dtype, long[]? padLengths = null, int? capacity = null)
    {
        Capacity = capacity ?? config.ContextLength;
        if (Capacity < 1 || Capacity > config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"must be between 1 and the context length {config.ContextLength}");
        }

        _keys = new Tensor[config.Layers];
        _values = new Tensor[config.Layers];
        for (var layer = 0; layer < config.Layers; layer++)
        {
            _keys[layer] = zeros([batchSize, config.Heads, Capacity, config.HeadWidth], dtype: dtype, device: device).DetachFromDisposeScope();
            _values[layer] = zeros([batchSize, config.Heads, Capacity, config.HeadWidth], dtype: dtype, device: device).DetachFromDisposeScope();
        }

        PadLengths = padLengths ?? new long[batchSize];
        if (PadLengths.Length != batchSize)
        {
            throw new ArgumentException($"padLengths has {PadLengths.Length} entries for a batch of {batchSize}", nameof(padLengths));
        }
    }

    /// <summary>Keys of <paramref name="layer"/> for positions [0, length), for copying into a <see cref="SlotKvCache"/>.</summary>
    internal (Tensor Keys, Tensor Values) Prefix(int layer) => (_keys[layer].narrow(2, 0, Length), _values[layer].narrow(2, 0, Length));

    private KvCache(Tensor[] keys, Tensor[] values, int capacity, long[] padLengths, int length)
    {
        _keys = keys;
        _values = values;
        Capacity = capacity;
        PadLengths = padLengths;
        Length = length;
    }

    /// <summary>Positions written so far (the same for every row; padding included).</summary>
    public int Length { get; private set; }

    public int Capacity { get; }

    public long[] PadLengths { get; }

    public long BatchSize => _keys[0].shape[0];

    public bool HasPadding => PadLengths.Any(pad => pad > 0);

    /// <summary>Writes this step's keys and values at the current length and attends over the whole prefix.</summary>
    Tensor IAttentionCache.Attend(int layer, Tensor query, Tensor keys, Tensor values, Tensor? mask)
    {
        var (cachedKeys, cachedValues) = Append(layer, keys, values);
        return CausalSelfAttention.Scaled(query, cachedKeys, cachedValues, mask);
    }

    /// <summary>Writes this step's keys and values at the current length and returns the whole prefix.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var steps = (int)keys.shape[2];
        if (Length + steps > Capacity)
        {
            throw new InvalidOperationException($"KV cache is full: {Length} + {steps} positions exceed the context length {Capacity}");
        }

        _keys[layer].narrow(2, Length, steps).copy_(keys);
        _values[layer].narrow(2, Length, steps).copy_(values);
        return (_keys[layer].narrow(2, 0, Length + steps), _values[layer].narrow(2, 0, Length + steps));
    }

    /// <summary>
    /// Copies positions of one layer's keys and values ([heads, count,
    /// headWidth]) into <paramref name="row"/> at <paramref name="position"/>: cached prefix
    /// positions that a prefill then continues instead of computing (see <see cref="PrefixCache"/>).
    /// </summary>
    internal void Write(int layer, int row, int position, Tensor keys, Tensor values)
    {
        var count = keys.shape[1];
        using var rowKeys = _keys[layer][row];
        using var rowValues = _values[layer][row];
        rowKeys.narrow(1, position, count).copy_(keys);
        rowValues.narrow(1, position, count).copy_(values);
    }

    /// <summary>Keys and values of <paramref name="row"/> at positions [position, position + count) of one layer.</summary>
    internal (Tensor Keys, Tensor Values) Read(int layer, int row, int position, int count) =>
        (_keys[layer][row].narrow(1, position, count), _values[layer][row].narrow(1, position, count));

    /// <summary>Called by the model once every layer has appended <paramref name="steps"/> positions.</summary>
    internal void Advance(int steps) => Length += steps;

    /// <summary>A cache holding only the given rows (sequences that are still generating), in that order.</summary>
    public KvCache Select(IReadOnlyList<int> rows)
    {
        using var index = tensor(rows.Select(row => (long)row).ToArray(), device: _keys[0].device);
        var keys = _keys.Select(cache => cache.index_select(0, index).DetachFromDisposeScope()).ToArray();
        var values = _values.Select(cache => cache.index_select(0, index).DetachFromDisposeScope()).ToArray();
        return new KvCache(keys, values, Capacity, rows.Select(row => PadLengths[row]).ToArray(), Length);
    }

    public void Dispose()
    {
        foreach (var tensor in _keys.Concat(_values))
        {
            tensor.Dispose();
        }
    }
}
