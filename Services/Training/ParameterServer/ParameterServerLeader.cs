using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Training.Jobs;
using TorchSharp;

namespace MsSwift.Training.ParameterServer;

/// <summary>
/// What a job's parameter server needs to (re)start: the model shape, the optimizer and how often
/// to checkpoint. <c>InitialCheckpoint</c>, for fine-tuning, names the checkpoint a fresh job
/// starts from (null: random weights from <c>Seed</c>; see <see cref="InitialWeights"/>).
/// <c>KeepCheckpoints</c>: the newest checkpoints kept per job (0: all; <see cref="CheckpointRetention"/>).
/// </summary>
public sealed record ParameterServerJobSpec(
    string JobId, GptConfig Config, TrainingHyperparameters Hyperparameters, ParameterServerSettings Settings, int CheckpointEverySteps, long Seed,
    string Tokenizer = "byte", Func<CancellationToken, Task<string>>? InitialCheckpoint = null, int KeepCheckpoints = 0);

/// <summary>
/// Runs one job's parameter server only while it holds the job's Redis lock: it resumes from the
/// latest committed checkpoint (or starts fresh), checkpoints every K steps through the
/// <see cref="ICheckpointStore"/> and commits each checkpoint with its fencing token. The lease is
/// renewed from the moment it is taken, also while a large checkpoint loads. If the lease is lost
/// or a commit is refused (a newer leader exists), it stops serving the job at once.
/// </summary>
public sealed partial class ParameterServerLeader(
    ParameterServerJobSpec spec, RedisLock locks, JobStore state, ICheckpointStore store, ParameterServerJobs jobs, TorchThread torch, TimeProvider time,
    ILogger<ParameterServerLeader> logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _deposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _stepDown = new();
    private RedisLockLease? _lease;
    private ParameterServerJob? _job;
    private long _committedVersion = -1; // the newest version this leader knows to be committed
    private Task _renewal = Task.CompletedTask;
    private Task _checkpoints = Task.CompletedTask;

    public static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(3);

    /// <summary>The job while this instance leads it.</summary>
    public ParameterServerJob? Job => _job;

    public long FencingToken => _lease?.FencingToken ?? 0;

    /// <summary>Set when leadership ended (lease lost, a write refused, or disposed).</summary>
    public Task Deposed => _deposed.Task;

    private string LockName => $"training:{spec.JobId}:parameter-server";

    /// <summary>Raised after a checkpoint was written and committed: its version and prefix in the store.</summary>
    public event Action<long, string>? Checkpointed;

    /// <summary>Raised when writing or committing the checkpoint of a version failed (the step path goes on).</summary>
    public event Action<long, Exception>? CheckpointFailed;

    /// <summary>
    /// Tries to become the job's parameter server; false when another instance leads it.
    /// <paramref name="acquired"/> runs once the lock is held, before the checkpoint is loaded.
    /// </summary>
    /// <param name="cancellationToken">Stops loading the parameters.</param>
    /// <param name="acquired">Runs once the lock is held, before the parameters load.</param>
    /// <param name="failed">Runs, while the lock is still held, when loading the parameters failed; then the lock is released and the error rethrown.</param>
    public async Task<bool> TryLeadAsync(CancellationToken cancellationToken, Func<Task>? acquired = null, Func<Exception, Task>? failed = null)
    {
        _lease = await locks.TryAcquireAsync(LockName, LeaseTime);
        if (_lease is null)
        {
            return false;
        }

        _renewal = RenewAsync(_stop.Token);
        try
        {
            if (acquired is not null)
            {
                await acquired();
            }

            var committed = await state.ReadCommittedAsync(spec.JobId);
            _committedVersion = committed?.Version ?? -1;
            _job = committed is null ? await FreshAsync(cancellationToken) : await ResumeAsync(committed, cancellationToken);
        }
        catch (Exception error)
        {
            try
            {
                if (failed is not null)
                {
                    await failed(error);
                }
            }
            finally
            {
                await StepDownAsync();
            }

            throw;
        }

        if (_stop.IsCancellationRequested)
        {
            // The lease lapsed while the checkpoint loaded: someone else may lead by now.
            _job.Dispose();
            _job = null;
            return false;
        }

        LogLeading(logger, spec.JobId, _lease.FencingToken, _job.Version);
        _job.StepApplied += OnStepApplied;
        jobs.Add(_job);
        return true;
    }

    /// <summary>Checkpoints the current version and commits it; false when the commit was refused (this instance is stale).</summary>
    public async Task<bool> CheckpointAsync(CancellationToken cancellationToken)
    {
        var job = _job ?? throw new InvalidOperationException("not leading");
        if (job.Version <= _committedVersion)
        {
            // Queued behind a checkpoint that already saved this version (checkpoints slower than
            // checkpoint_every steps): a second commit of it would be refused as if from a stale leader.
            return true;
        }

        var prefix = $"jobs/{spec.JobId}/step-{job.Version:D8}-fence-{FencingToken}";
        var version = await job.SaveCheckpointAsync(store, prefix, cancellationToken);
        if (await state.CommitAsync(spec.JobId, FencingToken, version, prefix))
        {
            _committedVersion = version;
            Checkpointed?.Invoke(version, prefix);
            await PruneOlderCheckpointsAsync(prefix, cancellationToken);
            return true;
        }

        LogRefused(logger, spec.JobId, FencingToken, version);
        await StepDownAsync();
        return false;
    }

    /// <summary>Stops leading the job: the parameter server goes, the lock is released.</summary>
    public async Task StepDownAsync()
    {
        lock (_stepDown)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            _stop.Cancel();
        }

        if (_job is { } job)
        {
            jobs.Remove(job.JobId);
            job.Dispose();
        }

        if (_lease is { } lease)
        {
            await lease.ReleaseAsync();
        }

        _deposed.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await StepDownAsync();
        await _checkpoints.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>Deletes what retention no longer keeps; on the checkpoint chain, off the step path. A failure is retried at the next commit.</summary>
    private async Task PruneOlderCheckpointsAsync(string committedPrefix, CancellationToken cancellationToken)
    {
        try
        {
            await CheckpointRetention.PruneAsync(store, spec.JobId, committedPrefix, spec.KeepCheckpoints, cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            LogPruneFailed(logger, spec.JobId, committedPrefix, error.Message);
        }
    }

    private async Task<ParameterServerJob> FreshAsync(CancellationToken cancellationToken)
    {
        var model = await InitialWeights.CreateAsync(spec, store, cancellationToken);
        model.to(TorchRuntime.Device);
        return new ParameterServerJob(spec.JobId, model, spec.Hyperparameters, spec.Settings, time: time, torch: torch) { TokenizerId = spec.Tokenizer };
    }

    private async Task<ParameterServerJob> ResumeAsync(CommittedStep committed, CancellationToken cancellationToken)
    {
        var loaded = await GptCheckpoint.LoadAsync(store, ParameterServerJob.ModelFile(committed.Checkpoint), TorchRuntime.Device, cancellationToken);
        await using var optimizer = await store.OpenReadAsync($"{committed.Checkpoint}/optimizer.bin", cancellationToken);
        var buffered = new MemoryStream();
        await optimizer.CopyToAsync(buffered, cancellationToken);
        buffered.Position = 0;
        return new ParameterServerJob(spec.JobId, loaded.Model, spec.Hyperparameters, spec.Settings, (buffered, committed.Version), time, torch) { TokenizerId = spec.Tokenizer };
    }

    private void OnStepApplied(StepOutcome outcome)
    {
        if (outcome.Version % spec.CheckpointEverySteps == 0 || outcome.Version >= spec.Hyperparameters.TotalSteps)
        {
            // One checkpoint at a time, in version order; a step never waits for storage.
            _checkpoints = _checkpoints.ContinueWith(_ => CheckpointOrReportAsync(outcome.Version), TaskScheduler.Default).Unwrap();
        }
    }

    private async Task CheckpointOrReportAsync(long version)
    {
        try
        {
            await CheckpointAsync(_stop.Token);
        }
        catch (Exception error) when (!_stop.IsCancellationRequested)
        {
            LogCheckpointFailed(logger, spec.JobId, version, error.Message);
            CheckpointFailed?.Invoke(version, error);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stepping down: the successor checkpoints from what was committed.
        }
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(LeaseTime / 3, time, cancellationToken);
                if (_lease is null || !await _lease.ExtendAsync(LeaseTime))
                {
                    LogLeaseLost(logger, spec.JobId, FencingToken);
                    await StepDownAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception error)
        {
            // Redis unreachable for longer than the lease: the lock may be someone else's now.
            LogLeaseLost(logger, spec.JobId, FencingToken);
            LogRenewalFailed(logger, spec.JobId, error.Message);
            await StepDownAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Leading job {JobId} as parameter server (fencing token {Token}) from version {Version}")]
    private static partial void LogLeading(ILogger logger, string jobId, long token, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint commit for job {JobId} refused for fencing token {Token} at version {Version}: a newer parameter server leads; stepping down")]
    private static partial void LogRefused(ILogger logger, string jobId, long token, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the parameter-server lease of job {JobId} (fencing token {Token}); stepping down")]
    private static partial void LogLeaseLost(ILogger logger, string jobId, long token);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing the parameter-server lease of job {JobId} failed: {Reason}")]
    private static partial void LogRenewalFailed(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting checkpoints of job {JobId} older than {Prefix} failed; the next commit retries: {Reason}")]
    private static partial void LogPruneFailed(ILogger logger, string jobId, string prefix, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpointing job {JobId} at version {Version} failed: {Reason}")]
    private static partial void LogCheckpointFailed(ILogger logger, string jobId, long version, string reason);
}
