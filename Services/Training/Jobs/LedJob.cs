using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Training;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Jobs;

/// <summary>The services a led job reports to.</summary>
public sealed record LedJobServices(
    JobStore Store, JobChanges Changes, JobHistory History, JobFinisher Finisher, TrainingMetrics Metrics, TimeProvider Time, ILogger Logger);

/// <summary>
/// One job this coordinator leads: it turns the parameter server's steps, membership changes,
/// checkpoints and evaluations into <see cref="JobRules"/> changes (fenced writes through
/// <see cref="JobProgress"/>), follows the job's record for a cancel request or a newer leader
/// (woken by <see cref="JobChanges"/>, not polling), and when the last step's checkpoint is
/// committed, registers the model (<see cref="JobFinisher"/>). A job taken over at its last step
/// finishes from its committed checkpoint. <see cref="Ended"/> completes when it ended or this
/// instance stopped leading it.
/// </summary>
public sealed partial class LedJob : IAsyncDisposable
{
    private readonly TrainRequest _request;
    private readonly DatasetInfo _dataset;
    private readonly ParameterServerLeader _leader;
    private readonly JobProgress _progress;
    private readonly JobEvaluator? _evaluator;
    private readonly LedJobServices _services;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _finalCheckpoint = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _following = Task.CompletedTask;
    private Task _finishing = Task.CompletedTask;
    private long _lastStepAt;
    private bool _timed;
    private int _ending;

    public LedJob(TrainRequest request, DatasetInfo dataset, ParameterServerLeader leader, JobProgress progress, JobEvaluator? evaluator, LedJobServices services)
    {
        _request = request;
        _dataset = dataset;
        _leader = leader;
        _progress = progress;
        _evaluator = evaluator;
        _services = services;
        _lastStepAt = services.Time.GetTimestamp();
    }

    public string JobId => _progress.JobId;

    public ParameterServerLeader Leader => _leader;

    /// <summary>Whether the job still counts against the coordinator's cap: not ended (its end may be stored before <see cref="Ended"/> completes).</summary>
    public bool Active => !_ended.Task.IsCompleted && !JobRules.IsTerminal(_progress.Snapshot().State);

    /// <summary>Completes when the job ended, or this coordinator no longer leads it.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Announces the lead (Running, with this leader's address) and starts reporting; false when a newer leader already wrote.</summary>
    public async Task<bool> StartAsync(bool restarting)
    {
        var job = _leader.Job!;
        job.StepApplied += OnStepApplied;
        job.MembershipChanged += change =>
        {
            // Workers leaving after the last step are not news: the status keeps who trained it.
            if (job.Version < _request.Steps)
            {
                _ = _progress.ApplyAsync((status, now) => JobRules.MembershipChanged(status, change.Members, change.Description, now));
            }
        };
        job.Diverged += reason => _ = EndAsync((status, now) => JobRules.Fail(status, reason, now));
        _leader.Checkpointed += OnCheckpointed;
        _leader.CheckpointFailed += OnCheckpointFailed;
        var startStep = job.Version;
        var message = restarting ? $"resumed at step {startStep} after a coordinator restart"
            : _evaluator is null ? "the dataset has no whole validation window: no eval loss" : "";
        if (!await _progress.ApplyAsync((status, now) => JobRules.Lead(status, startStep, message, now)))
        {
            await StopLeadingAsync();
            return false;
        }

        _ = Task.WhenAny(_leader.Deposed, _progress.Refused).ContinueWith(_ => StopLeadingAsync(), TaskScheduler.Default).Unwrap();
        _following = FollowAsync();
        if (startStep >= _request.Steps && await _services.Store.ReadCommittedAsync(JobId) is { } committed)
        {
            // Taken over after the last step: its checkpoint is committed; evaluate it and register.
            _finalCheckpoint.TrySetResult(committed.Checkpoint);
            _finishing = FinishAsync(Evaluate(startStep, job.Snapshot().Parameters, required: true));
        }

        return true;
    }

    /// <summary>Cancels the job now (it is led here).</summary>
    public Task CancelAsync() => EndAsync((status, now) => JobRules.Cancel(status, now));

    public async ValueTask DisposeAsync()
    {
        await StopLeadingAsync();
        await _following.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _finishing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _leader.DisposeAsync();
        if (_evaluator is not null)
        {
            await _evaluator.DisposeAsync();
        }

        _stop.Dispose();
    }

    private void OnStepApplied(StepOutcome outcome)
    {
        var time = _services.Time;
        var sinceLastStep = time.GetElapsedTime(_lastStepAt);
        _lastStepAt = time.GetTimestamp();
        // The first step led here (fresh or taken over) has no previous apply: its time since the
        // lead includes start-up (workers joining, the first pull), so the histogram skips it.
        _services.Metrics.StepApplied(JobId, outcome.Loss, outcome.Tokens, _timed ? sinceLastStep : null);
        LogStepApplied(_services.Logger, JobId, outcome.Version, outcome.Update.TotalMilliseconds);
        _timed = true;
        var seconds = sinceLastStep.TotalSeconds;
        var plannedTokensPerStep = (long)_request.Workers * _request.BatchSize * _request.Window * _request.AccumulationSteps;
        var step = new StepProgress(
            outcome.Version, outcome.Loss, outcome.Workers, outcome.Tokens, seconds > 0 ? outcome.Tokens / seconds : 0,
            outcome.Version * plannedTokensPerStep / Math.Max(1, _dataset.TrainTokens), outcome.Dropped);
        _ = _progress.ApplyAsync((status, now) => JobRules.Step(status, step, now));
        _ = _services.History.RecordStepAsync(JobId, outcome.Version, _request.Steps, outcome.Loss);

        var final = outcome.Version == _request.Steps;
        var evaluation = final || outcome.Version % _request.EvalEvery == 0 ? Evaluate(outcome.Version, outcome.Parameters, required: final) : null;
        if (final)
        {
            _finishing = FinishAsync(evaluation);
        }
    }

    private void OnCheckpointed(long version, string prefix)
    {
        _ = _progress.ApplyAsync((status, now) => JobRules.Checkpointed(status, ParameterServerJob.ModelFile(prefix), now));
        if (version >= _request.Steps)
        {
            _finalCheckpoint.TrySetResult(prefix);
        }
    }

    private void OnCheckpointFailed(long version, Exception error)
    {
        if (version >= _request.Steps)
        {
            _finalCheckpoint.TrySetException(error);
        }
    }

    /// <summary>The validation loss of step <paramref name="step"/>'s parameters, in the status once known; null without validation data or when it failed.</summary>
    private Task<EvaluationResult?>? Evaluate(long step, float[] parameters, bool required) =>
        _evaluator?.EvaluateAsync(parameters, required) is { } evaluation ? RecordAsync(evaluation, step) : SkippedEvaluation(step);

    private Task<EvaluationResult?>? SkippedEvaluation(long step)
    {
        if (_evaluator is not null)
        {
            LogEvaluationSkipped(_services.Logger, JobId, step);
        }

        return null;
    }

    private async Task<EvaluationResult?> RecordAsync(Task<EvaluationResult> evaluation, long step)
    {
        try
        {
            var result = await evaluation;
            _services.Metrics.Evaluated(JobId, result.Loss);
            await _progress.ApplyAsync((status, now) => JobRules.Evaluated(status, step, result.Loss, now));
            _ = _services.History.RecordEvaluationAsync(JobId, step, result.Loss);
            return result;
        }
        catch (Exception error)
        {
            LogEvaluationFailed(_services.Logger, JobId, step, error.Message);
            return null;
        }
    }

    /// <summary>Waits for the last checkpoint's commit and evaluation, registers the model, and ends the job.</summary>
    private async Task FinishAsync(Task<EvaluationResult?>? evaluation)
    {
        try
        {
            var prefix = await _finalCheckpoint.Task.WaitAsync(_stop.Token);
            var evaluated = evaluation is null ? null : await evaluation;
            if (!await _services.Finisher.FinishAsync(_progress, _request, _dataset, prefix, evaluated, _stop.Token))
            {
                await StopLeadingAsync();
                return;
            }

            var registered = _progress.Snapshot().Message;
            LogEnded(_services.Logger, JobId, nameof(TrainState.Succeeded), registered);
            await StopLeadingAsync();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            await EndAsync((status, now) => JobRules.Fail(status, $"finishing failed: {error.Message}", now));
        }
    }

    /// <summary>
    /// Follows the job's record: a cancel request ends it here; a newer leader's token, or the
    /// record gone, means this instance stops leading it.
    /// </summary>
    private async Task FollowAsync()
    {
        try
        {
            await using var changes = await _services.Changes.FollowAsync(JobId);
            while (!_stop.IsCancellationRequested)
            {
                var record = await _services.Store.ReadAsync(JobId);
                if (record is null || record.Fence > _progress.Fence)
                {
                    await StopLeadingAsync();
                    return;
                }

                if (record.CancelRequested)
                {
                    await CancelAsync();
                    return;
                }

                await changes.WaitAsync(JobChanges.Fallback, _services.Time, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception error)
        {
            LogFollowFailed(_services.Logger, JobId, error.Message);
            // Without news of cancel requests the job cannot be led safely; another coordinator takes it.
            await StopLeadingAsync();
        }
    }

    /// <summary>Ends the job: its final status and event, then it stops being led here.</summary>
    private async Task EndAsync(Func<TrainStatus, DateTimeOffset, (TrainStatus, TrainingEvent?)> end)
    {
        if (await _progress.ApplyAsync(end))
        {
            var ended = _progress.Snapshot();
            var state = ended.State.ToString();
            var message = ended.Message;
            LogEnded(_services.Logger, JobId, state, message);
        }

        await StopLeadingAsync();
    }

    private async Task StopLeadingAsync()
    {
        if (Interlocked.Exchange(ref _ending, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        await _leader.StepDownAsync();
        _ended.TrySetResult();
    }

    /// <summary>The benchmark (tools/Bench) reads this line's shape: keep the names.</summary>
    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} step {Step} applied: update {UpdateMs:F1} ms")]
    private static partial void LogStepApplied(ILogger logger, string jobId, long step, double updateMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Evaluating job {JobId} at step {Step} failed: {Reason}")]
    private static partial void LogEvaluationFailed(ILogger logger, string jobId, long step, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: the evaluation at step {Step} is skipped, an earlier one is still waiting (evaluations take longer than eval_every steps)")]
    private static partial void LogEvaluationSkipped(ILogger logger, string jobId, long step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training job {JobId} ended: {State} ({Message})")]
    private static partial void LogEnded(ILogger logger, string jobId, string state, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Following job {JobId} failed; stepping down so another coordinator leads it: {Reason}")]
    private static partial void LogFollowFailed(ILogger logger, string jobId, string reason);
}
