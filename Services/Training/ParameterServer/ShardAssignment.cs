namespace MsSwift.Training.ParameterServer;

/// <summary>
/// Who computes which shard of one step's global batch, until each shard's gradient arrived.
/// Shards are dealt round-robin over the members sorted by id, so an unchanged membership always
/// gets the same assignment; a departed member's shards go to the members with the least left to
/// do; with nobody left they are orphans until a worker joins. Not thread-safe: the parameter
/// server calls it under its lock.
/// </summary>
public sealed class ShardAssignment
{
    // Shards whose gradient has not arrived, and who computes them (null: nobody yet).
    private readonly SortedDictionary<int, string?> _open = [];

    public ShardAssignment(int shards, IReadOnlyCollection<string> members)
    {
        var ordered = members.Order(StringComparer.Ordinal).ToList();
        for (var shard = 0; shard < shards; shard++)
        {
            _open[shard] = ordered.Count == 0 ? null : ordered[shard % ordered.Count];
        }
    }

    /// <summary>Every shard's gradient arrived.</summary>
    public bool Complete => _open.Count == 0;

    /// <summary>The shards <paramref name="worker"/> still has to compute, in order.</summary>
    public int[] OwnedBy(string worker) => _open.Where(entry => entry.Value == worker).Select(entry => entry.Key).ToArray();

    /// <summary>The members that still owe a gradient.</summary>
    public IReadOnlySet<string> Owing => _open.Values.OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>Why <paramref name="worker"/> may not deliver <paramref name="shards"/>; null when it may.</summary>
    public string? Refusal(string worker, IReadOnlyList<int> shards)
    {
        if (shards.Count == 0)
        {
            return "the gradient names no shards";
        }

        if (shards.Distinct().Count() != shards.Count)
        {
            return "the gradient names a shard twice";
        }

        var foreign = shards.FirstOrDefault(shard => !_open.TryGetValue(shard, out var owner) || owner != worker, -1);
        return foreign < 0 ? null : $"shard {foreign} is not assigned to worker '{worker}' in this step (its gradient arrived, or it went to another worker)";
    }

    /// <summary>Marks the shards' gradients as arrived (checked with <see cref="Refusal"/> first).</summary>
    public void Deliver(IEnumerable<int> shards)
    {
        foreach (var shard in shards)
        {
            _open.Remove(shard);
        }
    }

    /// <summary>Hands the shards of <paramref name="departed"/> to <paramref name="members"/>; returns whether any moved.</summary>
    public bool Reassign(IReadOnlySet<string> departed, IReadOnlyCollection<string> members)
    {
        var moving = _open.Where(entry => entry.Value is null || departed.Contains(entry.Value)).Select(entry => entry.Key).ToList();
        var heirs = members.Where(member => !departed.Contains(member)).Order(StringComparer.Ordinal).ToList();
        foreach (var shard in moving)
        {
            // The least loaded heir first; ties by id, so the hand-over is deterministic.
            _open[shard] = heirs.Count == 0 ? null : heirs.MinBy(heir => (_open.Count(entry => entry.Value == heir), heirs.IndexOf(heir)));
        }

        return moving.Count > 0 && heirs.Count > 0;
    }
}
