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
/// every step, and on success registers the final checkpoint as a new model version.
/// </summary>
public sealed partial class JobCoordinator(
    JobRecords records, RedisLock locks, JobStateStore state, Lazy<ICheckpointStore> store, ParameterServerJobs jobs,
    DataService.DataServiceClient data, ModelRegistryAdmin.ModelRegistryAdminClient registry, IOptions<TrainingOptions> options,
    ILoggerFactory loggers, ILogger<JobCoordinator> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ParameterServerLeader> _leaders = new(StringComparer.Ordinal);

    public static bool IsTerminal(TrainState state) => state is TrainState.Succeeded or TrainState.Failed or TrainState.Cancelled;

    public async Task<TrainStatus> StartAsync(TrainRequest original, CancellationToken cancellationToken)
    {
        var (request, violations) = TrainRequestDefaults.Apply(original);
        if (violations.Count > 0)
        {
            throw InvalidArgument("the training request is invalid", violations);
        }

        DatasetInfo dataset;
        try
        {
            dataset = await data.GetDatasetAsync(new GetDatasetRequest { Name = request.Dataset, Version = request.DatasetVersion }, cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            throw InvalidArgument(error.Status.Detail, [new() { Field = "dataset", Description = "ingest it into the data service first" }]);
        }

        if (dataset.TrainTokens < (long)request.Workers * (request.Window + 1))
        {
            throw InvalidArgument($"dataset '{dataset.Name}' has {dataset.TrainTokens} training tokens, too few for {request.Workers} shards of {request.Window + 1}-token windows",
                [new() { Field = "window", Description = "smaller, or fewer workers" }]);
        }

        request.DatasetVersion = dataset.Version;
        var jobId = $"job-{Guid.NewGuid():N}"[..16];
        var status = new TrainStatus { JobId = jobId, State = TrainState.Created, Workers = request.Workers };
        await records.SaveAsync(request, status);
        if (!await LeadAsync(request, dataset, status, cancellationToken))
        {
            throw new RpcException(new RpcStatus(StatusCode.Aborted, $"job '{jobId}' already has a parameter server"));
        }

        LogStarted(logger, jobId, request.Dataset, request.Workers, request.Steps);
        return status.Clone();
    }

    /// <summary>
    /// Takes over a job whose coordinator died: waits for its parameter-server lock to lapse,
    /// then leads it from its last committed checkpoint. False when another coordinator has it.
    /// </summary>
    public async Task<bool> RecoverAsync(string jobId, CancellationToken cancellationToken)
    {
        if (_leaders.TryGetValue(jobId, out var current))
        {
            if (!current.Deposed.IsCompleted)
            {
                return false;
            }

            // This instance lost the job's lease earlier; it may lead it again.
            _leaders.TryRemove(jobId, out _);
            await current.DisposeAsync();
        }

        if (await records.ReadAsync(jobId) is not { } record || IsTerminal(record.Status.State))
        {
            return false;
        }

        var dataset = await data.GetDatasetAsync(new GetDatasetRequest { Name = record.Request.Dataset, Version = record.Request.DatasetVersion }, cancellationToken: cancellationToken);
        var status = record.Status;
        if (!await LeadAsync(record.Request, dataset, status, cancellationToken))
        {
            return false;
        }

        status.Message = $"resumed at step {status.Step} after a coordinator restart";
        await records.SaveStatusAsync(status);
        LogRecovered(logger, jobId, status.Step);
        return true;
    }

    /// <summary>Leads the job's parameter server (fresh or from its checkpoint) and keeps its status current.</summary>
    private async Task<bool> LeadAsync(TrainRequest request, DatasetInfo dataset, TrainStatus status, CancellationToken cancellationToken)
    {
        var jobId = status.JobId;
        var config = new GptConfig
        {
            Layers = request.Shape.Layers, Heads = request.Shape.Heads, Width = request.Shape.Width,
            ContextLength = request.Shape.ContextLength, VocabSize = dataset.VocabSize,
        };
        var spec = new ParameterServerJobSpec(jobId, config, Hyperparameters(request),
            new ParameterServerSettings(request.WireFormat, request.Workers, TimeSpan.FromSeconds(options.Value.StragglerTimeoutSeconds)),
            request.CheckpointEvery, request.Seed, dataset.Tokenizer);
        var leader = new ParameterServerLeader(spec, locks, state, store.Value, jobs, loggers.CreateLogger<ParameterServerLeader>());
        if (!await leader.TryLeadAsync(cancellationToken))
        {
            await leader.DisposeAsync();
            return false;
        }
        _leaders[jobId] = leader;
        var tokensPerStep = (long)request.Workers * request.BatchSize * request.Window;
        var lastStep = Stopwatch.GetTimestamp();
        leader.Job!.StepApplied += outcome =>
        {
            var elapsed = Stopwatch.GetElapsedTime(lastStep).TotalSeconds;
            lastStep = Stopwatch.GetTimestamp();
            status.Step = outcome.Version;
            status.ParameterVersion = outcome.Version;
            status.Loss = outcome.Loss;
            status.Workers = outcome.Workers;
            status.TokensPerSecond = elapsed > 0 ? tokensPerStep / elapsed : 0;
            status.Epoch = outcome.Version * tokensPerStep / Math.Max(1, dataset.TrainTokens);
            // "What happened last" stays until something else happens, so a poller cannot miss it.
            if (outcome.Dropped.Count > 0)
            {
                status.Message = $"step {outcome.Version}: dropped stragglers: {string.Join(", ", outcome.Dropped)}";
            }

            var snapshot = status.Clone();
            _ = records.SaveStatusAsync(snapshot);
            if (outcome.Version >= request.Steps)
            {
                _ = FinishAsync(request, dataset, snapshot);
            }
        };
        status.State = TrainState.Running;
        status.Step = leader.Job!.Version;
        status.ParameterVersion = leader.Job.Version;
        await records.SaveStatusAsync(status);
        await records.OpenAsync(jobId);
        return true;
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

    public async Task<TrainStatus> CancelAsync(string jobId)
    {
        var record = await records.ReadAsync(jobId) ?? throw new RpcException(new RpcStatus(StatusCode.NotFound, $"no training job '{jobId}'"));
        if (IsTerminal(record.Status.State))
        {
            throw new RpcException(new RpcStatus(StatusCode.FailedPrecondition, $"job '{jobId}' already ended ({record.Status.State})"));
        }

        await EndAsync(jobId, record.Status, TrainState.Cancelled, "cancelled by request");
        return (await records.ReadAsync(jobId))!.Value.Status;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var leader in _leaders.Values)
        {
            await leader.DisposeAsync();
        }
    }

    /// <summary>Waits for the final checkpoint's commit, registers it, and ends the job.</summary>
    private async Task FinishAsync(TrainRequest request, DatasetInfo dataset, TrainStatus status)
    {
        try
        {
            var deadline = DateTime.UtcNow.AddMinutes(5);
            CommittedStep? committed;
            while ((committed = await state.ReadAsync(status.JobId)) is null || committed.Version < request.Steps)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("the final checkpoint was not committed within 5 minutes");
                }

                await Task.Delay(50);
            }

            status.LastCheckpoint = $"{committed.Checkpoint}/model.safetensors";
            var registered = await registry.RegisterVersionAsync(new RegisterVersionRequest
            {
                Model = request.Model,
                Checkpoint = status.LastCheckpoint,
                SourceJob = status.JobId,
                DatasetHash = dataset.Version,
                Metrics = { ["train_loss"] = status.Loss, ["steps"] = request.Steps },
            });
            status.RegisteredModel = registered.Name;
            status.RegisteredVersion = registered.Versions[^1].Version;
            await EndAsync(status.JobId, status, TrainState.Succeeded, $"registered {registered.Name} {status.RegisteredVersion}");
        }
        catch (Exception error)
        {
            await EndAsync(status.JobId, status, TrainState.Failed, $"finishing failed: {error.Message}");
        }
    }

    private async Task EndAsync(string jobId, TrainStatus status, TrainState final, string message)
    {
        status.State = final;
        status.Message = message;
        await records.CloseAsync(jobId);
        await records.SaveStatusAsync(status);
        if (_leaders.TryRemove(jobId, out var leader))
        {
            await leader.DisposeAsync();
        }

        var state = final.ToString();
        LogEnded(logger, jobId, state, message);
    }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Training job {JobId} ended: {State} ({Message})")]
    private static partial void LogEnded(ILogger logger, string jobId, string state, string message);
}
