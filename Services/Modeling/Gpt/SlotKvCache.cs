using static TorchSharp.torch;

namespace MsSwift.Modeling.Gpt;

/// <summary>
/// A KV cache of fixed slots for continuous batching: each slot holds one sequence with its own
/// length, so sequences join (a prefilled cache is copied into a free slot) and leave (the slot
/// is released) between decode steps while the others carry on. A decode step writes each slot's
/// new key and value at that slot's own position.
/// </summary>
public sealed class SlotKvCache : IAttentionCache, IDisposable
{
    private readonly GptConfig _config;
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly long[] _lengths;
    private readonly bool[] _occupied;
    private Tensor? _writeIndex;
    private int _rows;
    private int _view;

    public SlotKvCache(GptConfig config, int slots, Device device, ScalarType dtype)
    {
        _config = config;
        _keys = new Tensor[config.Layers];
        _values = new Tensor[config.Layers];
        for (var layer = 0; layer < config.Layers; layer++)
        {
            _keys[layer] = zeros([slots, config.Heads, config.ContextLength, config.HeadWidth], dtype: dtype, device: device).DetachFromDisposeScope();
            _values[layer] = zeros([slots, config.Heads, config.ContextLength, config.HeadWidth], dtype: dtype, device: device).DetachFromDisposeScope();
        }

        _lengths = new long[slots];
        _occupied = new bool[slots];
    }

    public int Slots => _occupied.Length;

    public int Capacity => _config.ContextLength;

    /// <summary>One past the highest occupied slot: decode steps cover slots [0, ActiveRows).</summary>
    public int ActiveRows => Array.LastIndexOf(_occupied, true) + 1;

    public int FreeSlots => _occupied.Count(occupied => !occupied);

    public long LengthOf(int slot) => _lengths[slot];

    /// <summary>
    /// Takes the lowest free slot and fills it with row <paramref name="row"/> of a (left-padded)
    /// prefill cache: the row's real positions become the slot's positions 0, 1, ...
    /// </summary>
    public int Admit(KvCache prefilled, int row)
    {
        var slot = Array.IndexOf(_occupied, false);
        if (slot < 0)
        {
            throw new InvalidOperationException("no free slot");
        }

        var pad = prefilled.PadLengths[row];
        var length = prefilled.Length - pad;
        for (var layer = 0; layer < _keys.Length; layer++)
        {
            var (keys, values) = prefilled.Prefix(layer);
            _keys[layer][slot].narrow(1, 0, length).copy_(keys[row].narrow(1, pad, length));
            _values[layer][slot].narrow(1, 0, length).copy_(values[row].narrow(1, pad, length));
        }

        _lengths[slot] = length;
        _occupied[slot] = true;
        return slot;
    }

    /// <param name="slot">The slot to free.</param>
    /// <param name="scrub">
    /// Zero its keys and values too. Positions past a sequence's length are masked, but a masked
    /// NaN still poisons attention (its weight is 0, and 0 x NaN is NaN), so a slot whose sequence
    /// failed on non-finite values is scrubbed before another sequence takes it.
    /// </param>
    public void Release(int slot, bool scrub = false)
    {
        _occupied[slot] = false;
        _lengths[slot] = 0;
        if (scrub)
        {
            for (var layer = 0; layer < _keys.Length; layer++)
            {
                using var keys = _keys[layer][slot];
                using var values = _values[layer][slot];
                keys.zero_();
                values.zero_();
            }
        }
    }

    /// <summary>Prepares a one-token decode over slots [0, rows); returns each row's position for the new token.</summary>
    internal long[] BeginStep(int rows, Device device)
    {
        var positions = _lengths[..rows];
        if (positions.Any(position => position >= Capacity))
        {
            throw new InvalidOperationException($"a slot reached the context length of {Capacity}");
        }

        _rows = rows;
        _view = (int)positions.Max() + 1;
        _writeIndex?.Dispose();
        _writeIndex = tensor(positions, device: device).view(rows, 1, 1, 1)
            .expand(rows, _config.Heads, 1, _config.HeadWidth).contiguous().DetachFromDisposeScope();
        return positions;
    }

    /// <summary>Counts the step's token for every occupied slot (free rows computed nothing that is kept).</summary>
    internal void EndStep()
    {
        for (var slot = 0; slot < _rows; slot++)
        {
            if (_occupied[slot])
            {
                _lengths[slot]++;
            }
        }
    }

    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var cachedKeys = _keys[layer].narrow(0, 0, _rows);
        var cachedValues = _values[layer].narrow(0, 0, _rows);
        cachedKeys.scatter_(2, _writeIndex!, keys);
        cachedValues.scatter_(2, _writeIndex!, values);
        return (cachedKeys.narrow(2, 0, _view), cachedValues.narrow(2, 0, _view));
    }

    public void Dispose()
    {
        _writeIndex?.Dispose();
        foreach (var tensor in _keys.Concat(_values))
        {
            tensor.Dispose();
        }
    }
}
