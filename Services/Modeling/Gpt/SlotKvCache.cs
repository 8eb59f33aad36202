using static TorchSharp.torch;

namespace MsSwift.Modeling.Gpt;

/// <summary>
/// A KV cache of fixed slots for continuous batching: each slot holds one sequence with its own
/// length, so sequences join (a prefilled cache is copied into a free slot) and leave (the slot
/// is released) between decode steps while the others carry on. A decode step computes only the
/// occupied slots and writes each one's new key and value at that slot's own position.
/// <para>
/// Attention follows each sequence's own length: a step splits the occupied slots into runs of
/// neighbouring slots with similar lengths (<see cref="LengthGroups"/>), and each run attends over
/// its own longest prefix, a view of the cache, never a copy. On a CPU the keys and values read
/// are what a decode step's attention costs, so one long sequence no longer makes every short one
/// read its length. New sequences are placed next to sequences expected to run as long
/// (<see cref="ChooseSlot"/>), which keeps those runs long.
/// </para>
/// </summary>
public sealed class SlotKvCache : IAttentionCache, IDisposable
{
    private readonly GptConfig _config;
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly long[] _lengths;
    private readonly long[] _expected;
    private readonly bool[] _occupied;
    private StepGroup[] _groups = [];

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
        _expected = new long[slots];
        _occupied = new bool[slots];
    }

    public int Slots => _occupied.Length;

    public int Capacity => _config.ContextLength;

    /// <summary>Occupied slots: the rows a decode step computes.</summary>
    public int ActiveRows => _occupied.Count(occupied => occupied);

    public int FreeSlots => _occupied.Length - ActiveRows;

    /// <summary>The occupied slots in ascending order: row i of a decode step is slot <c>OccupiedSlots()[i]</c>.</summary>
    public int[] OccupiedSlots() => Enumerable.Range(0, _occupied.Length).Where(slot => _occupied[slot]).ToArray();

    public long LengthOf(int slot) => _lengths[slot];

    /// <summary>
    /// What one more attention group costs a decode step, in cached positions of one row
    /// (<see cref="LengthGroups"/>): 0 splits at every change of length, <see cref="NeverSplit"/> never
    /// splits (every row attends over the longest prefix). For measuring; the default is the engine's.
    /// </summary>
    public long AttentionGroupCost { get; init; } = LengthGroups.AttentionGroupCost;

    /// <summary>A group price no split can pay back (and small enough that the search's sums cannot overflow).</summary>
    public const long NeverSplit = 1L << 40;

    /// <summary>Attention groups of the last decode step.</summary>
    public int LastStepGroups => _groups.Length;

    /// <summary>Cached positions the last decode step's attention read per layer (rows x the view each row's group attends over).</summary>
    public long LastStepAttendedPositions { get; private set; }

    /// <summary>
    /// Takes a free slot and fills it with row <paramref name="row"/> of a (left-padded) prefill
    /// cache: the row's real positions become the slot's positions 0, 1, ...
    /// </summary>
    /// <param name="prefilled">The prefill's cache.</param>
    /// <param name="row">The row to copy.</param>
    /// <param name="expectedLength">How long the sequence may grow (prompt plus its token budget); it chooses the slot.</param>
    public int Admit(KvCache prefilled, int row, long expectedLength)
    {
        var pad = prefilled.PadLengths[row];
        var length = prefilled.Length - pad;
        var slot = ChooseSlot(expectedLength);
        for (var layer = 0; layer < _keys.Length; layer++)
        {
            var (keys, values) = prefilled.Prefix(layer);
            _keys[layer][slot].narrow(1, 0, length).copy_(keys[row].narrow(1, pad, length));
            _values[layer][slot].narrow(1, 0, length).copy_(values[row].narrow(1, pad, length));
        }

        _lengths[slot] = length;
        _expected[slot] = expectedLength;
        _occupied[slot] = true;
        return slot;
    }

    /// <summary>
    /// The free slot next to a sequence expected to grow about as long (relative difference),
    /// or, when every neighbour differs by more than half, one with no occupied neighbour (the
    /// farthest from the others): neighbours attend together, so a short sequence wedged between
    /// long ones would read their prefixes. Ties go to the lowest slot, so equal requests fill the
    /// slots from the bottom.
    /// </summary>
    private int ChooseSlot(long expectedLength)
    {
        var best = -1;
        var bestScore = double.MaxValue;
        for (var slot = 0; slot < _occupied.Length; slot++)
        {
            if (_occupied[slot])
            {
                continue;
            }

            double? nearest = null;
            foreach (var neighbour in (ReadOnlySpan<int>)[slot - 1, slot + 1])
            {
                if (neighbour >= 0 && neighbour < _occupied.Length && _occupied[neighbour])
                {
                    var other = _expected[neighbour];
                    var difference = Math.Abs(other - expectedLength) / (double)Math.Max(1, Math.Max(other, expectedLength));
                    nearest = Math.Min(nearest ?? difference, difference);
                }
            }

            // Among slots with no occupied neighbour, the one farthest from any sequence leaves
            // the most room for later sequences to join the ones they resemble.
            var score = nearest ?? 0.5 + 0.01 / (1 + DistanceToOccupied(slot));
            if (score < bestScore)
            {
                (best, bestScore) = (slot, score);
            }
        }

        return best >= 0 ? best : throw new InvalidOperationException("no free slot");
    }

    private int DistanceToOccupied(int slot)
    {
        for (var distance = 1; distance < _occupied.Length; distance++)
        {
            if ((slot - distance >= 0 && _occupied[slot - distance]) || (slot + distance < _occupied.Length && _occupied[slot + distance]))
            {
                return distance;
            }
        }

        return _occupied.Length; // none occupied: every slot ties, and the lowest wins
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
        _expected[slot] = 0;
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

    /// <summary>
    /// Prepares a one-token decode over the occupied slots (<see cref="OccupiedSlots"/>, in that
    /// order); returns each row's position for the new token.
    /// </summary>
    internal long[] BeginStep(Device device)
    {
        var slots = OccupiedSlots();
        var positions = slots.Select(slot => _lengths[slot]).ToArray();
        if (positions.Any(position => position >= Capacity))
        {
            throw new InvalidOperationException($"a slot reached the context length of {Capacity}");
        }

        DisposeGroups();
        _groups = LengthGroups.Split(slots, [.. positions.Select(position => position + 1)], AttentionGroupCost)
            .Select(group => StepGroup.Create(group, positions, _config, device))
            .ToArray();
        LastStepAttendedPositions = _groups.Sum(group => (long)group.Rows * group.View);
        return positions;
    }

    /// <summary>Counts the step's token for every slot it computed.</summary>
    internal void EndStep()
    {
        foreach (var group in _groups)
        {
            for (var slot = group.FirstSlot; slot < group.FirstSlot + group.Rows; slot++)
            {
                _lengths[slot]++;
            }
        }
    }

    /// <summary>
    /// Writes each row's new key and value at its own position, then lets each group of
    /// neighbouring slots attend over its own longest prefix. Rows are the occupied slots in order,
    /// and the groups cover them in order, so the groups' outputs concatenate back into rows.
    /// </summary>
    Tensor IAttentionCache.Attend(int layer, Tensor query, Tensor keys, Tensor values, Tensor? mask)
    {
        var outputs = new Tensor[_groups.Length];
        for (var g = 0; g < _groups.Length; g++)
        {
            var group = _groups[g];
            var cachedKeys = _keys[layer].narrow(0, group.FirstSlot, group.Rows);
            var cachedValues = _values[layer].narrow(0, group.FirstSlot, group.Rows);
            cachedKeys.scatter_(2, group.WriteIndex, keys.narrow(0, group.FirstRow, group.Rows));
            cachedValues.scatter_(2, group.WriteIndex, values.narrow(0, group.FirstRow, group.Rows));
            outputs[g] = CausalSelfAttention.Scaled(query.narrow(0, group.FirstRow, group.Rows),
                cachedKeys.narrow(2, 0, group.View), cachedValues.narrow(2, 0, group.View), group.Mask);
        }

        return outputs.Length == 1 ? outputs[0] : cat(outputs, 0);
    }

    private void DisposeGroups()
    {
        foreach (var group in _groups)
        {
            group.Dispose();
        }

        _groups = [];
    }

    public void Dispose()
    {
        DisposeGroups();
        foreach (var tensor in _keys.Concat(_values))
        {
            tensor.Dispose();
        }
    }

    /// <summary>
    /// One group of a step: rows [FirstRow, FirstRow + Rows) are slots [FirstSlot, FirstSlot + Rows),
    /// attending over positions [0, View). Its mask hides each row's positions beyond its own
    /// length; a group whose rows all have one length needs none.
    /// </summary>
    private sealed record StepGroup(int FirstRow, int FirstSlot, int Rows, int View, Tensor WriteIndex, Tensor? Mask) : IDisposable
    {
        public static StepGroup Create(LengthGroups.Range range, long[] positions, GptConfig config, Device device)
        {
            var own = positions.AsSpan(range.FirstRow, range.Rows).ToArray();
            var view = (int)own.Max() + 1;
            var writeIndex = tensor(own, device: device).view(range.Rows, 1, 1, 1)
                .expand(range.Rows, config.Heads, 1, config.HeadWidth).contiguous().DetachFromDisposeScope();
            Tensor? mask = null;
            if (own.Any(position => position != own[0]))
            {
                using var keyIndex = arange(view, dtype: int64, device: device).view(1, 1, 1, view);
                using var rowPositions = tensor(own, device: device).view(range.Rows, 1, 1, 1);
                mask = keyIndex.le(rowPositions).DetachFromDisposeScope();
            }

            return new StepGroup(range.FirstRow, range.FirstSlot, range.Rows, view, writeIndex, mask);
        }

        public void Dispose()
        {
            WriteIndex.Dispose();
            Mask?.Dispose();
        }
    }
}
