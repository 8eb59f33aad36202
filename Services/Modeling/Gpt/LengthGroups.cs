namespace MsSwift.Modeling.Gpt;

/// <summary>
/// Splits rows of different lengths into groups computed together, each at its longest row's
/// length: a decode step's occupied slots (each group attends over its own longest prefix) and a
/// prefill's prompts (each group is one forward over its longest uncomputed remainder). A group is
/// a run of adjacent rows; the split minimises rows x length summed over the groups plus a fixed
/// price per group for its extra calls, so one long row among short ones gets a group of its own
/// while rows of about one length stay together.
/// </summary>
internal static class LengthGroups
{
    /// <summary>
    /// What one more group costs a decode step, in cached positions of one row: its ~8 extra
    /// tensor calls per layer (~25 us on this machine's 2 cores) take about as long as reading
    /// ~100 positions of keys and values (2 KB per position and layer on the benchmark model,
    /// from memory rather than cache).
    /// </summary>
    internal const long AttentionGroupCost = 96;

    /// <summary>
    /// What one more prefill forward costs, in prompt positions: its fixed ~0.4 ms of calls is
    /// about ten positions of the benchmark model's prefill (~45 us each).
    /// </summary>
    internal const long PrefillGroupCost = 16;

    /// <summary>Longest run the search looks back over; bounds its cost at large batch sizes.</summary>
    private const int MaxGroupRows = 64;

    internal readonly record struct Range(int FirstRow, int FirstSlot, int Rows);

    /// <param name="slots">Where each row lives, ascending; rows of non-adjacent slots never share a group.</param>
    /// <param name="lengths">Each row's length (what the group it joins is computed at, at most).</param>
    /// <param name="groupCost">The price of one more group, in row-positions.</param>
    public static List<Range> Split(int[] slots, long[] lengths, long groupCost)
    {
        var count = slots.Length;
        // best[i]: the cheapest split of rows [0, i); start[i]: where its last group starts.
        var best = new long[count + 1];
        var start = new int[count + 1];
        for (var end = 1; end <= count; end++)
        {
            best[end] = long.MaxValue;
            long length = 0;
            for (var first = end - 1; first >= Math.Max(0, end - MaxGroupRows); first--)
            {
                if (first < end - 1 && slots[first] + 1 != slots[first + 1])
                {
                    break; // a free slot between them: a group must be a run of adjacent slots
                }

                length = Math.Max(length, lengths[first]);
                var cost = best[first] + (end - first) * length + groupCost;
                if (cost < best[end])
                {
                    (best[end], start[end]) = (cost, first);
                }
            }
        }

        var groups = new List<Range>();
        for (var end = count; end > 0; end = start[end])
        {
            groups.Add(new Range(start[end], slots[start[end]], end - start[end]));
        }

        groups.Reverse();
        return groups;
    }
}
