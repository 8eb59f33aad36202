using System.Diagnostics;
using Grpc.Core;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.ParameterServer;
using ParameterServerClient = MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient;

namespace MsSwift.Training.Workers;

/// <summary>The micro-batches of the given shards of one step (each shard's accumulation_steps micro-batches, in shard order).</summary>
public delegate Task<List<TokenBatch>> ShardBatches(long step, IReadOnlyList<int> shards, CancellationToken cancellationToken);

/// <summary>
/// A data-parallel worker: for each step it pulls the parameters and the shards it computes,
/// computes the mean gradient over those shards' batches on a local replica of the model, and
/// pushes it; the push returns once the parameter server has applied the step, or hands it
/// shards a departed worker left, which it computes and pushes too.
/// </summary>
/// <param name="server">The job's parameter server.</param>
/// <param name="jobId">The job.</param>
/// <param name="workerId">This worker's name, unique in the job.</param>
/// <param name="replica">The local model replica (its weights are replaced by every pull).</param>
/// <param name="hyperparameters">Precision and accumulation for the local gradient; the optimizer settings live on the server.</param>
/// <param name="torch">The thread the replica's libtorch work runs on (null: the calling thread).</param>
public sealed class DataParallelWorker(
    ParameterServerClient server, string jobId, string workerId, GptModel replica, TrainingHyperparameters hyperparameters, TorchThread? torch = null) : IDisposable
{
    private readonly GptTrainer _trainer = new(replica, hyperparameters);
    private readonly int _parameterCount = (int)replica.parameters().Sum(parameter => parameter.numel());
    private readonly BatchPrefetch _prefetch = new();

    public string WorkerId => workerId;

    /// <summary>Where the latest <see cref="StepAsync"/> spent its time.</summary>
    public WorkerStepPhases LastStep { get; private set; }

    /// <summary>Joins the job; the answer says the current step and the lease to keep with heartbeats.</summary>
    public async Task<JoinResponse> JoinAsync(CancellationToken cancellationToken) =>
        await server.JoinAsync(new JoinRequest { JobId = jobId, WorkerId = workerId }, cancellationToken: cancellationToken);

    public async Task HeartbeatAsync(CancellationToken cancellationToken) =>
        await server.HeartbeatAsync(new HeartbeatRequest { JobId = jobId, WorkerId = workerId }, cancellationToken: cancellationToken);

    public async Task LeaveAsync(CancellationToken cancellationToken) =>
        await server.LeaveAsync(new LeaveRequest { JobId = jobId, WorkerId = workerId }, cancellationToken: cancellationToken);

    /// <summary>
    /// One synchronous step: whatever shards the server assigns, with their batches from
    /// <paramref name="batches"/>. While the server applies the step, the next step's batches for
    /// the same shards are read ahead (<see cref="BatchPrefetch"/>).
    /// </summary>
    public async Task<PushResponse> StepAsync(ShardBatches batches, WireFormat format, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var pull = server.PullParameters(new PullRequest { JobId = jobId, WorkerId = workerId }, cancellationToken: cancellationToken);
        var (parameters, vector) = await WireCodec.DecodeAsync(pull.ResponseStream.ReadAllAsync(cancellationToken), _ => _parameterCount, cancellationToken);
        await TorchThread.RunOn(torch, () =>
        {
            _trainer.SetParameters(vector);
            return vector.Length;
        });
        var phases = new WorkerStepPhases { Pull = Stopwatch.GetElapsedTime(started) };
        IReadOnlyList<int> shards = parameters.Shards;
        while (true)
        {
            var reading = Stopwatch.GetTimestamp();
            var microBatches = await _prefetch.TakeAsync(batches, parameters.Version, shards, cancellationToken);
            phases = phases with { Data = phases.Data + Stopwatch.GetElapsedTime(reading) };
            try
            {
                var (response, compute, push) = await PushAsync(microBatches, parameters.Version, shards, format,
                    () => _prefetch.Start(batches, parameters.Version + 1, parameters.Shards, cancellationToken), cancellationToken);
                phases = phases with { Compute = phases.Compute + compute, Push = phases.Push + push };
                if (response.MoreShards.Count == 0)
                {
                    LastStep = phases;
                    return response;
                }

                shards = response.MoreShards;
            }
            finally
            {
                microBatches.ForEach(batch => batch.Dispose());
            }
        }
    }

    public void Dispose()
    {
        _prefetch.Dispose();
        _trainer.Dispose();
    }

    private async Task<(PushResponse Response, TimeSpan Compute, TimeSpan Push)> PushAsync(
        List<TokenBatch> microBatches, long step, IReadOnlyList<int> shards, WireFormat format, Action whileApplied, CancellationToken cancellationToken)
    {
        var computing = Stopwatch.GetTimestamp();
        var (loss, gradients) = await TorchThread.RunOn(torch, () => (_trainer.ComputeGradients(microBatches), _trainer.GetGradients()));
        var compute = Stopwatch.GetElapsedTime(computing);
        var pushing = Stopwatch.GetTimestamp();
        var header = new VectorHeader
        {
            JobId = jobId, WorkerId = workerId, Version = step, Format = format,
            Loss = loss, Tokens = microBatches.Sum(batch => batch.TokenCount), Shards = { shards },
        };
        using var push = server.PushGradients(cancellationToken: cancellationToken);
        foreach (var chunk in WireCodec.Encode(gradients, header))
        {
            await push.RequestStream.WriteAsync(chunk, cancellationToken);
        }

        await push.RequestStream.CompleteAsync();
        whileApplied();
        var response = await push.ResponseAsync;
        return (response, compute, Stopwatch.GetElapsedTime(pushing));
    }
}
