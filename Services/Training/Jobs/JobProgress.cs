using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Training.Jobs;

/// <summary>
/// The status of one job this coordinator leads, changed only through <see cref="JobRules"/> and
/// written with the leader's fencing token. Steps, checkpoints, membership and evaluations change
/// it from different threads; each change is applied under one lock and its write issued in the
/// same order (Redis applies one connection's commands in order), so the stored status never goes
/// backwards. A refused write means a newer leader exists: <see cref="Refused"/> completes and
/// nothing this instance writes is stored again.
/// </summary>
public sealed class JobProgress(TrainStatus status, long fence, string leaderAddress, JobStore store, TrainingEventOutbox outbox, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _addressWritten;

    public string JobId => status.JobId;

    public long Fence => fence;

    /// <summary>Completes when a write was refused: this instance no longer leads the job.</summary>
    public Task Refused => _refused.Task;

    public TrainStatus Snapshot()
    {
        lock (_gate)
        {
            return status.Clone();
        }
    }

    /// <summary>
    /// Applies <paramref name="rule"/> to the current status and writes the result with its event:
    /// true once stored; false when the write was refused (a newer leader) or the rule does not
    /// allow the change (the job ended meanwhile). A rule's refusal is thrown only with <paramref name="throwRefusals"/>.
    /// </summary>
    public Task<bool> ApplyAsync(Func<TrainStatus, DateTimeOffset, (TrainStatus Status, TrainingEvent? Event)> rule, bool throwRefusals = false)
    {
        Task<bool> written;
        TrainingEvent? change;
        lock (_gate)
        {
            if (_refused.Task.IsCompleted)
            {
                return Task.FromResult(false);
            }

            TrainStatus next;
            try
            {
                (next, change) = rule(status, time.GetUtcNow());
            }
            catch (ServiceException) when (!throwRefusals)
            {
                return Task.FromResult(false);
            }

            status = next;
            written = store.WriteAsync(fence, next, change, _addressWritten ? "" : leaderAddress);
            _addressWritten = true;
        }

        return ObserveAsync(written, change is not null);
    }

    /// <summary>Whether this instance still leads the job, as the store says now (its fencing token is the newest).</summary>
    public async Task<bool> StillLeadsAsync() => !_refused.Task.IsCompleted && (await store.ReadAsync(JobId))?.Fence == fence;

    private async Task<bool> ObserveAsync(Task<bool> written, bool withEvent)
    {
        bool stored;
        try
        {
            stored = await written;
        }
        catch (StackExchange.Redis.RedisException)
        {
            // Redis is unreachable: this change is not stored (the next one carries the whole
            // status); whether the job is still ours, the lease renewal finds out.
            return false;
        }

        if (stored)
        {
            if (withEvent)
            {
                outbox.Signal();
            }

            return true;
        }

        _refused.TrySetResult();
        return false;
    }
}
