using MsSwift.Modeling.Training;

namespace MsSwift.Training.Workers;

/// <summary>
/// The next step's batches, read while this step's gradient is being applied. A step's batches
/// are a function of (step, shards) alone, and a worker usually keeps its shards from one step to
/// the next, so reading them while the worker would otherwise wait for the parameter server takes
/// the data service off the step's critical path. A guess that turns out wrong (the membership
/// changed and the shards with it) is disposed and read again.
/// </summary>
public sealed class BatchPrefetch : IDisposable
{
    private (long Step, int[] Shards, Task<List<TokenBatch>> Batches)? _pending;

    /// <summary>Starts reading the batches of <paramref name="step"/>'s <paramref name="shards"/> (unless already under way), replacing any other guess.</summary>
    public void Start(ShardBatches batches, long step, IReadOnlyList<int> shards, CancellationToken cancellationToken)
    {
        if (Matches(step, shards))
        {
            return;
        }

        Discard();
        _pending = (step, shards.ToArray(), batches(step, shards, cancellationToken));
    }

    /// <summary>The batches of (<paramref name="step"/>, <paramref name="shards"/>): the prefetched ones when they match, else read now.</summary>
    public async Task<List<TokenBatch>> TakeAsync(ShardBatches batches, long step, IReadOnlyList<int> shards, CancellationToken cancellationToken)
    {
        if (Matches(step, shards) && _pending is { } pending)
        {
            _pending = null;
            try
            {
                return await pending.Batches;
            }
            catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A failed guess is no worse than none: read them now, and let that call report a lasting problem.
            }
        }

        Discard();
        return await batches(step, shards, cancellationToken);
    }

    public void Dispose() => Discard();

    private bool Matches(long step, IReadOnlyList<int> shards) => _pending is { } pending && pending.Step == step && pending.Shards.SequenceEqual(shards);

    private void Discard()
    {
        if (_pending is { } pending)
        {
            _pending = null;
            _ = pending.Batches.ContinueWith(read =>
            {
                if (read.IsCompletedSuccessfully)
                {
                    read.Result.ForEach(batch => batch.Dispose());
                }
                else
                {
                    _ = read.Exception; // observed: nobody needs these batches any more
                }
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }
}
