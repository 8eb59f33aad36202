using WireFormat = MsSwift.Contracts.Training.V1.WireFormat;

namespace MsSwift.Training.ParameterServer;

/// <summary>How a job's parameter server runs its synchronous steps.</summary>
/// <param name="Format">How parameters and gradients are encoded on the wire.</param>
/// <param name="MinimumWorkers">The first step waits until this many workers have joined.</param>
/// <param name="StragglerTimeout">How long a step waits for a member's gradient once the first one arrived.</param>
/// <param name="TokensPerShard">The tokens each shard's gradient covers (batch size x window x accumulation); 0 accepts any.</param>
/// <param name="Shards">The shards of every step's global batch (0: <paramref name="MinimumWorkers"/>).</param>
/// <param name="MaximumWorkers">Members at most (0: one per shard; never more than the shards).</param>
public sealed record ParameterServerSettings(
    WireFormat Format, int MinimumWorkers, TimeSpan StragglerTimeout, long TokensPerShard = 0, int Shards = 0, int MaximumWorkers = 0)
{
    public int ShardCount => Shards > 0 ? Shards : Math.Max(1, MinimumWorkers);

    public int MaximumMembers => MaximumWorkers > 0 ? Math.Min(MaximumWorkers, ShardCount) : ShardCount;

    /// <summary>
    /// A member's lease: twice the straggler timeout (at least 3 s), so a worker busy with a long
    /// step still renews it well before it lapses, and a dead one is noticed by the step (the
    /// straggler timeout) before its lease is.
    /// </summary>
    public TimeSpan Lease => TimeSpan.FromTicks(Math.Max(StragglerTimeout.Ticks * 2, TimeSpan.FromSeconds(3).Ticks));
}
