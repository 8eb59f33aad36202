using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using RpcStatus = global::Grpc.Core.Status;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Starts, follows and cancels training jobs on the coordinator: validates the request (the
/// dataset must exist), leads the job's parameter server, keeps the job's status in Redis after
/// every step, checkpoint and evaluation (publishing each as a training event) and its loss curves
/// (<see cref="JobHistory"/>), and on success registers the final checkpoint as a new model
/// version. Only the job's leader writes its status.
/// A job must fit the coordinator's caps (<see cref="JobBudget"/>), and the coordinator leads at
/// most <c>Training:MaxConcurrentJobs</c> jobs at once: started here or taken over.
/// </summary>
public sealed partial class JobCoordinator(
    JobRecords records, JobHistory history, RedisLock locks, JobStateStore state, Lazy<ICheckpointStore> store, ParameterServerJobs jobs, TrainingEventPublisher events,
    DataService.DataServiceClient data, ModelRegistryAdmin.ModelRegistryAdminClient registry, FineTuneSource fineTuning, IOptions<TrainingOptions> options,
    TrainingMetrics metrics, ILoggerFactory loggers, ILogger<JobCoordinator> logger) : IAsyncDisposable
{
    private static readonly TimeSpan CancelConfirmation = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, LedJob> _led = new(StringComparer.Ordinal);

    // Jobs led here plus those being started or taken over count against Training:MaxConcurrentJobs.
    private readonly Lock _admission = new();
    private int _arriving;

    public static bool IsTerminal(TrainState state) => state is TrainState.Succeeded or TrainState.Failed or TrainState.Cancelled;

    public async Task<TrainStatus> StartAsync(TrainRequest original, CancellationToken cancellationToken)
    {
        var (request, violations) = TrainRequestDefaults.Apply(original);
        if (violations.Count > 0)
        {
            throw InvalidArgument("the training request is invalid", violations);
        }

        if (!TryAdmit())
        {
            throw new RpcException(new RpcStatus(StatusCode.ResourceExhausted,
                $"this coordinator already runs {options.Value.MaxConcurrentJobs} jobs ({TrainingOptions.SectionName}:{nameof(TrainingOptions.MaxConcurrentJobs)}); wait for one to end, or cancel one"));
        }

        try
        {
            var started = await StartAdmittedAsync(request, cancellationToken);
            LogStarted(logger, started.JobId, request.Dataset, request.Workers, request.Steps);
            return started;
        }
        finally
        {
            Arrived();
        }
    }

    /// <summary>The rest of <see cref="StartAsync"/>, once admitted: the dataset, the caps, then the job.</summary>
    private async Task<TrainStatus> StartAdmittedAsync(TrainRequest request, CancellationToken cancellationToken)
    {
        DatasetInfo dataset;
        try
        {
            dataset = await data.GetDatasetAsync(new GetDatasetRequest { Name = request.Dataset, Version = request.DatasetVersion }, cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            throw InvalidArgument(error.Status.Detail, [new() { Field = "dataset", Description = "ingest it into the data service first" }]);
        }

        request = await fineTuning.AdoptAsync(request, dataset, cancellationToken);

        if (dataset.TrainTokens < (long)request.Workers * (request.Window + 1))
        {
            throw InvalidArgument($"dataset '{dataset.Name}' has {dataset.TrainTokens} training tokens, too few for {request.Workers} shards of {request.Window + 1}-token windows",
                [new() { Field = "window", Description = "smaller, or fewer workers" }]);
        }

        if (JobBudget.Check(request, ModelConfig(request, dataset), options.Value) is { Count: > 0 } overBudget)
        {
            throw InvalidArgument("the training request is over this coordinator's limits", overBudget);
        }

        request.DatasetVersion = dataset.Version;
        var jobId = JobIds.New();
        var status = new TrainStatus { JobId = jobId, State = TrainState.Created, Workers = request.Workers, InitFrom = request.InitFrom };
        await records.SaveAsync(request, status);
        var progress = new JobProgress(status, records, events);
        await progress.UpdateAsync(TrainingEventType.Created, static _ => { });
        if (!await LeadAsync(request, dataset, progress, restarting: false, cancellationToken))
        {
            throw new RpcException(new RpcStatus(StatusCode.Aborted, $"job '{jobId}' already has a parameter server"));
        }

        return progress.Snapshot();
    }

    /// <summary>
    /// Takes over a job whose coordinator died: waits for its parameter-server lock to lapse,
    /// then leads it from its last committed checkpoint. False when another coordinator has it.
    /// </summary>
    public async Task<bool> RecoverAsync(string jobId, CancellationToken cancellationToken)
    {
        if (_led.TryGetValue(jobId, out var current))
        {
            if (!current.Leader.Deposed.IsCompleted)
            {
                return false;
            }

            // This instance lost the job's lease earlier; it may lead it again.
            _led.TryRemove(jobId, out _);
            await current.DisposeAsync();
        }

        if (await records.ReadAsync(jobId) is not { } record || IsTerminal(record.Status.State))
        {
            return false;
        }

        // At the cap, leave the job to a coordinator with room (or to a later pass here).
        if (!TryAdmit())
        {
            return false;
        }

        try
        {
            var dataset = await data.GetDatasetAsync(new GetDatasetRequest { Name = record.Request.Dataset, Version = record.Request.DatasetVersion }, cancellationToken: cancellationToken);
            if (!await LeadAsync(record.Request, dataset, new JobProgress(record.Status, records, events), restarting: true, cancellationToken))
            {
                return false;
            }
        }
        finally
        {
            Arrived();
        }

        LogRecovered(logger, jobId, record.Status.Step);
        return true;
    }

    /// <summary>Ends the jobs this coordinator leads that someone asked (through another coordinator) to cancel.</summary>
    public async Task HonourCancellationsAsync()
    {
        foreach (var jobId in _led.Keys)
        {
            if (await records.IsCancelRequestedAsync(jobId))
            {
                await EndAsync(jobId, TrainState.Cancelled, "cancelled by request");
            }
        }
    }

    /// <summary>Leads the job's parameter server (fresh or from its checkpoint) and keeps its status current.</summary>
    private async Task<bool> LeadAsync(TrainRequest request, DatasetInfo dataset, JobProgress progress, bool restarting, CancellationToken cancellationToken)
    {
        var jobId = progress.JobId;
        var config = ModelConfig(request, dataset);
        var tokensPerGradient = (long)request.BatchSize * request.Window * request.AccumulationSteps;
        var settings = new ParameterServerSettings(request.WireFormat, request.Workers, TimeSpan.FromSeconds(options.Value.StragglerTimeoutSeconds), tokensPerGradient);
        var spec = new ParameterServerJobSpec(jobId, config, Hyperparameters(request), settings, request.CheckpointEvery, request.Seed, dataset.Tokenizer, fineTuning.InitialCheckpoint(request));
        var leader = new ParameterServerLeader(spec, locks, state, store.Value, jobs, loggers.CreateLogger<ParameterServerLeader>());
        Func<Task>? takingOver = restarting
            ? () => progress.UpdateAsync(TrainingEventType.Restarting, status =>
            {
                status.State = TrainState.Restarting;
                status.Message = "taking over from the last checkpoint";
            })
            : null;
        if (!await leader.TryLeadAsync(cancellationToken, takingOver))
        {
            await leader.DisposeAsync();
            return false;
        }

        JobEvaluator? evaluator;
        try
        {
            evaluator = await JobEvaluator.CreateAsync(data, request, config, cancellationToken);
        }
        catch
        {
            await leader.DisposeAsync();
            throw;
        }

        var led = new LedJob(leader, progress, evaluator);
        _led[jobId] = led;
        var job = leader.Job!;
        var plannedTokensPerStep = request.Workers * tokensPerGradient;
        var lastStep = Stopwatch.GetTimestamp();
        // The first step led here (fresh or taken over) has no previous apply: its time since the
        // lead includes start-up (workers joining, the first pull), so the histogram skips it.
        var timed = false;
        job.StepApplied += outcome =>
        {
            var sinceLastStep = Stopwatch.GetElapsedTime(lastStep);
            var elapsed = sinceLastStep.TotalSeconds;
            lastStep = Stopwatch.GetTimestamp();
            metrics.StepApplied(jobId, outcome.Loss, outcome.Tokens, timed ? sinceLastStep : null);
            timed = true;
            var dropped = outcome.Dropped.Count > 0 ? TrainingEventType.WorkersDropped : (TrainingEventType?)null;
            _ = progress.UpdateAsync(dropped, status =>
            {
                status.Step = outcome.Version;
                status.ParameterVersion = outcome.Version;
                status.Loss = outcome.Loss;
                status.Workers = outcome.Workers;
                status.Tokens += outcome.Tokens;
                status.TokensPerSecond = elapsed > 0 ? outcome.Tokens / elapsed : 0;
                status.Epoch = outcome.Version * plannedTokensPerStep / Math.Max(1, dataset.TrainTokens);
                // "What happened last" stays until something else happens, so a poller cannot miss it.
                if (outcome.Dropped.Count > 0)
                {
                    status.Message = $"step {outcome.Version}: dropped stragglers: {string.Join(", ", outcome.Dropped)}";
                }
            });
            _ = history.RecordStepAsync(jobId, outcome.Version, request.Steps, outcome.Loss);

            var final = outcome.Version == request.Steps;
            var evaluation = evaluator is not null && (final || outcome.Version % request.EvalEvery == 0)
                ? EvaluateAsync(led, outcome.Version, outcome.Parameters)
                : null;
            if (final)
            {
                _ = FinishAsync(request, dataset, evaluation, jobId);
            }
        };
        leader.Checkpointed += (_, prefix) => progress.UpdateAsync(TrainingEventType.Checkpointed, status => status.LastCheckpoint = ParameterServerJob.ModelFile(prefix));

        var startStep = job.Version;
        await progress.UpdateAsync(TrainingEventType.Running, status =>
        {
            status.State = TrainState.Running;
            status.Step = startStep;
            status.ParameterVersion = startStep;
            status.Message = restarting ? $"resumed at step {startStep} after a coordinator restart"
                : evaluator is null ? "the dataset has no whole validation window: no eval loss" : status.Message;
        });
        await records.OpenAsync(jobId);
        return true;
    }

    /// <summary>The validation loss of step <paramref name="step"/>'s parameters, in the status once known; null when it failed.</summary>
    private async Task<EvaluationResult?> EvaluateAsync(LedJob led, long step, float[] parameters)
    {
        try
        {
            var result = await led.Evaluator!.EvaluateAsync(parameters);
            metrics.Evaluated(led.Progress.JobId, result.Loss);
            await led.Progress.UpdateAsync(TrainingEventType.Evaluated, status =>
            {
                status.EvalLoss = result.Loss;
                status.EvalStep = step;
            });
            _ = history.RecordEvaluationAsync(led.Progress.JobId, step, result.Loss);
            return result;
        }
        catch (Exception error)
        {
            LogEvaluationFailed(logger, led.Progress.JobId, step, error.Message);
            return null;
        }
    }

    /// <summary>The job's status every time it changes, until it ends (or the caller stops listening; the job goes on).</summary>
    public async IAsyncEnumerable<TrainStatus> WatchAsync(string jobId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        TrainStatus? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var record = await records.ReadAsync(jobId) ?? throw new RpcException(new RpcStatus(StatusCode.NotFound, $"no training job '{jobId}'"));
            if (!record.Status.Equals(last))
            {
                last = record.Status;
                yield return last;
            }

            if (IsTerminal(record.Status.State))
            {
                yield break;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>
    /// Cancels the job: at once when this coordinator leads it, otherwise by asking its leader,
    /// and waiting up to <see cref="CancelConfirmation"/> for it to confirm. Returns the job's status.
    /// </summary>
    public async Task<TrainStatus> CancelAsync(string jobId)
    {
        var record = await records.ReadAsync(jobId) ?? throw new RpcException(new RpcStatus(StatusCode.NotFound, $"no training job '{jobId}'"));
        if (IsTerminal(record.Status.State))
        {
            throw new RpcException(new RpcStatus(StatusCode.FailedPrecondition, $"job '{jobId}' already ended ({record.Status.State})"));
        }

        await records.RequestCancelAsync(jobId);
        await EndAsync(jobId, TrainState.Cancelled, "cancelled by request");
        var deadline = DateTime.UtcNow + CancelConfirmation;
        TrainStatus status;
        while (!IsTerminal((status = (await records.ReadAsync(jobId))!.Value.Status).State) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        return status;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var led in _led.Values)
        {
            await led.DisposeAsync();
        }
    }

    /// <summary>Waits for the final checkpoint's commit and evaluation, registers the model, and ends the job.</summary>
    private async Task FinishAsync(TrainRequest request, DatasetInfo dataset, Task<EvaluationResult?>? evaluation, string jobId)
    {
        try
        {
            var deadline = DateTime.UtcNow.AddMinutes(5);
            CommittedStep? committed;
            while ((committed = await state.ReadAsync(jobId)) is null || committed.Version < request.Steps)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("the final checkpoint was not committed within 5 minutes");
                }

                await Task.Delay(50);
            }

            var evaluated = evaluation is null ? null : await evaluation;
            var trained = _led.TryGetValue(jobId, out var led) ? led.Progress.Snapshot() : throw new InvalidOperationException("the job is no longer led here");
            var checkpoint = ParameterServerJob.ModelFile(committed.Checkpoint);
            var metrics = new Dictionary<string, double> { ["train_loss"] = trained.Loss, ["steps"] = request.Steps, ["tokens"] = trained.Tokens };
            if (evaluated is not null)
            {
                metrics["eval_loss"] = evaluated.Loss;
                metrics["eval_perplexity"] = evaluated.Perplexity;
            }

            var registered = await registry.RegisterVersionAsync(JobRegistration.Request(request, jobId, checkpoint, dataset.Version, metrics));
            var version = JobRegistration.VersionOf(registered, jobId);
            await EndAsync(jobId, TrainState.Succeeded, $"registered {registered.Name} {version}", status =>
            {
                status.LastCheckpoint = checkpoint;
                status.RegisteredModel = registered.Name;
                status.RegisteredVersion = version;
            });
        }
        catch (Exception error)
        {
            await EndAsync(jobId, TrainState.Failed, $"finishing failed: {error.Message}");
        }
    }

    /// <summary>Ends a job this coordinator leads: its final status and event, then it stops leading it.</summary>
    private async Task EndAsync(string jobId, TrainState final, string message, Action<TrainStatus>? change = null)
    {
        if (!_led.TryRemove(jobId, out var led))
        {
            return;
        }

        var type = final switch
        {
            TrainState.Succeeded => TrainingEventType.Succeeded,
            TrainState.Cancelled => TrainingEventType.Cancelled,
            _ => TrainingEventType.Failed,
        };
        await led.Progress.UpdateAsync(type, status =>
        {
            change?.Invoke(status);
            status.State = final;
            status.Message = message;
        });
        await records.CloseAsync(jobId);
        await led.DisposeAsync();
        var state = final.ToString();
        LogEnded(logger, jobId, state, message);
    }

    /// <summary>A job this coordinator leads: its parameter server, its live status, and its evaluator (null without validation data).</summary>
    private sealed record LedJob(ParameterServerLeader Leader, JobProgress Progress, JobEvaluator? Evaluator) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Leader.DisposeAsync();
            if (Evaluator is not null)
            {
                await Evaluator.DisposeAsync();
            }
        }
    }

    /// <summary>Counts a job about to be led here, unless the coordinator is at its cap.</summary>
    private bool TryAdmit()
    {
        lock (_admission)
        {
            if (_led.Count + _arriving >= options.Value.MaxConcurrentJobs)
            {
                return false;
            }

            _arriving++;
            return true;
        }
    }

    /// <summary>The admitted job is led now (counted in <see cref="_led"/>) or did not start.</summary>
    private void Arrived()
    {
        lock (_admission)
        {
            _arriving--;
        }
    }

    private static GptConfig ModelConfig(TrainRequest request, DatasetInfo dataset) => new()
    {
        Layers = request.Shape.Layers, Heads = request.Shape.Heads, Width = request.Shape.Width,
        ContextLength = request.Shape.ContextLength, VocabSize = dataset.VocabSize,
    };

    private static TrainingHyperparameters Hyperparameters(TrainRequest request) => new()
    {
        LearningRate = request.LearningRate,
        MinLearningRate = request.LearningRate / 10,
        WarmupSteps = Math.Max(1, Math.Min(100, request.Steps / 10)),
        TotalSteps = request.Steps,
    };

    private static RpcException InvalidArgument(string message, IEnumerable<BadRequest.Types.FieldViolation> violations) =>
        new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = message,
            Details = { Any.Pack(new BadRequest { FieldViolations = { violations } }) },
        }.ToRpcException();

    [LoggerMessage(Level = LogLevel.Information, Message = "Started training job {JobId} on dataset {Dataset}: {Workers} workers, {Steps} steps")]
    private static partial void LogStarted(ILogger logger, string jobId, string dataset, int workers, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took over training job {JobId} from its last checkpoint at step {Step}")]
    private static partial void LogRecovered(ILogger logger, string jobId, long step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Evaluating job {JobId} at step {Step} failed: {Reason}")]
    private static partial void LogEvaluationFailed(ILogger logger, string jobId, long step, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training job {JobId} ended: {State} ({Message})")]
    private static partial void LogEnded(ILogger logger, string jobId, string state, string message);
}
