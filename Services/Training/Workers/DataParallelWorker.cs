using Grpc.Core;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.ParameterServer;
using ParameterServerClient = MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient;

namespace MsSwift.Training.Workers;

/// <summary>
/// A data-parallel worker: for each step it pulls the parameters, computes the gradient of its
/// shard's batches on a local replica of the model (accumulating micro-batches), and pushes it;
/// the push returns once the parameter server has applied the step.
/// </summary>
/// <param name="server">The job's parameter server.</param>
/// <param name="jobId">The job.</param>
/// <param name="workerId">This worker's name, unique in the job.</param>
/// <param name="replica">The local model replica (its weights are replaced by every pull).</param>
/// <param name="hyperparameters">Precision and accumulation for the local gradient; the optimizer settings live on the server.</param>
public sealed class DataParallelWorker(ParameterServerClient server, string jobId, string workerId, GptModel replica, TrainingHyperparameters hyperparameters) : IDisposable
{
    private readonly GptTrainer _trainer = new(replica, hyperparameters);
    private readonly int _parameterCount = (int)replica.parameters().Sum(parameter => parameter.numel());

    public string WorkerId => workerId;

    /// <summary>Joins the job; returns the step to compute next.</summary>
    public async Task<JoinResponse> JoinAsync(CancellationToken cancellationToken) =>
        await server.JoinAsync(new JoinRequest { JobId = jobId, WorkerId = workerId }, cancellationToken: cancellationToken);

    /// <summary>One synchronous step on <paramref name="microBatches"/> (this worker's shard for the step).</summary>
    public async Task<PushResponse> StepAsync(IReadOnlyList<TokenBatch> microBatches, WireFormat format, CancellationToken cancellationToken)
    {
        using var pull = server.PullParameters(new PullRequest { JobId = jobId, WorkerId = workerId }, cancellationToken: cancellationToken);
        var (parameters, vector) = await WireCodec.DecodeAsync(pull.ResponseStream.ReadAllAsync(cancellationToken), _ => _parameterCount, cancellationToken);
        _trainer.SetParameters(vector);

        var loss = _trainer.ComputeGradients(microBatches);
        var header = new VectorHeader
        {
            JobId = jobId, WorkerId = workerId, Version = parameters.Version, Format = format,
            Loss = loss, Tokens = microBatches.Sum(batch => batch.TokenCount),
        };
        using var push = server.PushGradients(cancellationToken: cancellationToken);
        foreach (var chunk in WireCodec.Encode(_trainer.GetGradients(), header))
        {
            await push.RequestStream.WriteAsync(chunk, cancellationToken);
        }

        await push.RequestStream.CompleteAsync();
        return await push.ResponseAsync;
    }

    public void Dispose() => _trainer.Dispose();
}
