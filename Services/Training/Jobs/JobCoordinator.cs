using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.ServiceDefaults.Errors;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Jobs;

/// <summary>
/// The Train API's operations on any coordinator: starts jobs (validated, within the caps of
/// <see cref="JobBudget"/> and <c>Training:MaxConcurrentJobs</c>) and leads them here
/// (<see cref="LedJob"/>), takes over jobs whose leader died (<see cref="RecoverAsync"/>), and
/// watches or cancels any job, whoever leads it, through the job store. Refusals are
/// <see cref="ServiceException"/>s, mapped to gRPC statuses once, by the service's interceptor.
/// </summary>
public sealed partial class JobCoordinator(
    JobStore store, JobChanges changes, RedisLock locks, Lazy<ICheckpointStore> checkpoints, ParameterServerJobs jobs, TrainingEventOutbox outbox,
    DataService.DataServiceClient data, FineTuneSource fineTuning, LedJobServices services, AdvertisedAddress address, TorchThread torch, IOptions<TrainingOptions> options,
    ILoggerFactory loggers) : IAsyncDisposable
{
    private static readonly TimeSpan CancelConfirmation = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, LedJob> _led = new(StringComparer.Ordinal);

    // Jobs led here plus those being started or taken over count against Training:MaxConcurrentJobs.
    private readonly Lock _admission = new();
    private int _arriving;

    public async Task<TrainStatus> StartAsync(TrainRequest original, CancellationToken cancellationToken)
    {
        var (request, violations) = TrainRequestDefaults.Apply(original);
        if (violations.Count > 0)
        {
            throw new ServiceException(ServiceError.InvalidArgument, "the training request is invalid", Fields(violations));
        }

        if (!TryAdmit())
        {
            throw new ServiceException(ServiceError.ResourceExhausted,
                $"this coordinator already runs {options.Value.MaxConcurrentJobs} jobs ({TrainingOptions.SectionName}:{nameof(TrainingOptions.MaxConcurrentJobs)}); wait for one to end, or cancel one");
        }

        try
        {
            var started = await StartAdmittedAsync(request, cancellationToken);
            LogStarted(services.Logger, started.JobId, request.Dataset, request.Workers, request.Steps);
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
        catch (global::Grpc.Core.RpcException error) when (error.StatusCode == global::Grpc.Core.StatusCode.NotFound)
        {
            throw new ServiceException(ServiceError.InvalidArgument, error.Status.Detail, [new("dataset", "ingest it into the data service first")]);
        }

        // Fine-tuning: the shape and tokenizer come from the registered version, pinned here.
        request = await fineTuning.AdoptAsync(request, dataset, cancellationToken);

        if (dataset.TrainTokens < (long)request.Workers * (request.Window + 1))
        {
            throw new ServiceException(ServiceError.InvalidArgument,
                $"dataset '{dataset.Name}' has {dataset.TrainTokens} training tokens, too few for {request.Workers} shards of {request.Window + 1}-token windows",
                [new("window", "smaller, or fewer workers")]);
        }

        if (JobBudget.Check(request, ModelConfig(request, dataset), options.Value) is { Count: > 0 } overBudget)
        {
            throw new ServiceException(ServiceError.InvalidArgument, "the training request is over this coordinator's limits", Fields(overBudget));
        }

        request.DatasetVersion = dataset.Version;
        var (status, created) = JobRules.Create(JobIds.New(), request, services.Time.GetUtcNow());
        await store.CreateAsync(request, status, created);
        outbox.Signal();
        return await LeadAsync(status.JobId, request, dataset, restarting: false, cancellationToken)
            ?? throw new ServiceException(ServiceError.Conflict, $"job '{status.JobId}' already has a parameter server");
    }

    /// <summary>
    /// Takes over a job whose coordinator died: once its parameter-server lock has lapsed, leads it
    /// from its last committed checkpoint. False when another coordinator has it, or this one is full.
    /// </summary>
    public async Task<bool> RecoverAsync(string jobId, CancellationToken cancellationToken)
    {
        if (_led.ContainsKey(jobId))
        {
            return false;
        }

        if (await store.ReadAsync(jobId) is not { } record || JobRules.IsTerminal(record.Status.State))
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
            if (await LeadAsync(jobId, record.Request, dataset, restarting: true, cancellationToken) is not { } status)
            {
                return false;
            }

            LogRecovered(services.Logger, jobId, status.Step);
            return true;
        }
        finally
        {
            Arrived();
        }
    }

    /// <summary>The job's status every time it changes, until it ends (or the caller stops listening; the job goes on).</summary>
    public async IAsyncEnumerable<TrainStatus> WatchAsync(string jobId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        JobIds.Require(jobId);
        await using var subscription = await changes.FollowAsync(jobId);
        TrainStatus? last = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            var record = await store.ReadAsync(jobId) ?? throw new ServiceException(ServiceError.NotFound, $"no training job '{jobId}'");
            if (!record.Status.Equals(last))
            {
                last = record.Status;
                yield return last;
            }

            if (JobRules.IsTerminal(record.Status.State))
            {
                yield break;
            }

            await subscription.WaitAsync(JobChanges.Fallback, services.Time, cancellationToken);
        }
    }

    /// <summary>
    /// Cancels the job, whoever leads it: the request goes into the job's record, its leader ends
    /// it, and this call waits up to <see cref="CancelConfirmation"/> for that. Returns the job's status.
    /// </summary>
    public async Task<TrainStatus> CancelAsync(string jobId)
    {
        var record = await store.ReadAsync(JobIds.Require(jobId)) ?? throw new ServiceException(ServiceError.NotFound, $"no training job '{jobId}'");
        JobRules.RequireCancellable(record.Status);
        await using var subscription = await changes.FollowAsync(jobId);
        await store.RequestCancelAsync(jobId);
        var deadline = services.Time.GetUtcNow() + CancelConfirmation;
        while (!JobRules.IsTerminal(record.Status.State) && services.Time.GetUtcNow() < deadline)
        {
            await subscription.WaitAsync(deadline - services.Time.GetUtcNow(), services.Time, CancellationToken.None);
            record = await store.ReadAsync(jobId) ?? record;
        }

        return record.Status;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var led in _led.Values)
        {
            await led.DisposeAsync();
        }
    }

    /// <summary>Leads the job's parameter server (fresh or from its checkpoint) and reports its progress; null when another instance leads it.</summary>
    private async Task<TrainStatus?> LeadAsync(string jobId, TrainRequest request, DatasetInfo dataset, bool restarting, CancellationToken cancellationToken)
    {
        var tokensPerShard = (long)request.BatchSize * request.Window * request.AccumulationSteps;
        var settings = new ParameterServerSettings(
            request.WireFormat, request.MinWorkers, TimeSpan.FromSeconds(options.Value.StragglerTimeoutSeconds), tokensPerShard, request.Workers, request.MaxWorkers);
        var spec = new ParameterServerJobSpec(jobId, ModelConfig(request, dataset), Hyperparameters(request), settings, request.CheckpointEvery, request.Seed, dataset.Tokenizer,
            fineTuning.InitialCheckpoint(request), options.Value.KeepCheckpoints);
        var leader = new ParameterServerLeader(spec, locks, store, checkpoints.Value, jobs, torch, services.Time, loggers.CreateLogger<ParameterServerLeader>());
        JobProgress? progress = null;
        async Task AcquiredAsync()
        {
            // Read once the lock is held: the status the previous leader left is the one to continue.
            var record = await store.ReadAsync(jobId) ?? throw new ServiceException(ServiceError.NotFound, $"no training job '{jobId}'");
            progress = new JobProgress(record.Status, leader.FencingToken, address.Value, store, outbox, services.Time);
            if (restarting)
            {
                await progress.ApplyAsync(JobRules.Restart);
            }
        }

        // A new job that cannot start fails at once, with the lock still held so no takeover can
        // interleave; no retry would change it (its starting weights or its data refuse it), and
        // left open it would come back on every recovery pass. A job being taken over is left to
        // the next pass instead: its committed checkpoint may be unreadable only for a while.
        var failedToStart = false;
        async Task FailAsync(Exception error)
        {
            if (!restarting && progress is not null && CannotStart(error))
            {
                var reason = $"the job could not start: {error.Message}";
                failedToStart = await progress.ApplyAsync((status, now) => JobRules.Fail(status, reason, now));
            }
        }

        JobEvaluator? evaluator;
        try
        {
            if (!await leader.TryLeadAsync(cancellationToken, AcquiredAsync, FailAsync))
            {
                await leader.DisposeAsync();
                return null;
            }

            try
            {
                evaluator = await JobEvaluator.CreateAsync(data, request, spec.Config, cancellationToken);
            }
            catch (Exception error)
            {
                await FailAsync(error);
                throw;
            }
        }
        catch (Exception error)
        {
            await leader.DisposeAsync();
            if (failedToStart)
            {
                throw new ServiceException(ServiceError.FailedPrecondition, $"job '{jobId}' failed: the job could not start: {error.Message}");
            }

            throw;
        }

        var led = new LedJob(request, dataset, leader, progress!, evaluator, services);
        _led[jobId] = led;
        _ = led.Ended.ContinueWith(async _ =>
        {
            _led.TryRemove(new KeyValuePair<string, LedJob>(jobId, led));
            await led.DisposeAsync();
        }, TaskScheduler.Default).Unwrap();
        return await led.StartAsync(restarting) ? progress!.Snapshot() : null;
    }

    /// <summary>Whether leading failed for a reason no retry changes, as opposed to a dependency that is restarting.</summary>
    private static bool CannotStart(Exception error) => error switch
    {
        InvalidDataException or CheckpointNotFoundException => true,
        ServiceException refused => refused.Error is ServiceError.InvalidArgument or ServiceError.FailedPrecondition,
        global::Grpc.Core.RpcException refused => refused.StatusCode is global::Grpc.Core.StatusCode.InvalidArgument or global::Grpc.Core.StatusCode.FailedPrecondition,
        _ => false,
    };

    /// <summary>Counts a job about to be led here, unless the coordinator is at its cap.</summary>
    private bool TryAdmit()
    {
        lock (_admission)
        {
            if (_led.Values.Count(led => led.Active) + _arriving >= options.Value.MaxConcurrentJobs)
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

    private static List<FieldViolation> Fields(IEnumerable<Google.Rpc.BadRequest.Types.FieldViolation> violations) =>
        violations.Select(violation => new FieldViolation(violation.Field, violation.Description)).ToList();

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Started training job {JobId} on dataset {Dataset}: {Workers} shards, {Steps} steps")]
    private static partial void LogStarted(ILogger logger, string jobId, string dataset, int workers, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took over training job {JobId} from its last checkpoint at step {Step}")]
    private static partial void LogRecovered(ILogger logger, string jobId, long step);
}
