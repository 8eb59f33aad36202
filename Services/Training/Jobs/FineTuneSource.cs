using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Fine-tuning's side of the registry: completes a request that starts from a registered version
/// (<see cref="FineTuneRules"/> decide), and later tells the job's parameter server which
/// checkpoint holds that version's weights.
/// </summary>
public sealed class FineTuneSource(ModelRegistry.ModelRegistryClient registry)
{
    /// <summary>The request completed from its <c>init_from</c> version (unchanged when it has none), before the job is saved.</summary>
    public async Task<TrainRequest> AdoptAsync(TrainRequest request, DatasetInfo dataset, CancellationToken cancellationToken) =>
        request.InitFrom is { } source
            ? FineTuneRules.Adopt(request, await ReadAsync(source, cancellationToken), dataset).Request
            : request;

    /// <summary>
    /// Where a fresh job's weights come from: null for random ones; for a fine-tune, the pinned
    /// version's checkpoint, looked up only when the parameter server starts the job afresh, so a job
    /// resumed from its own checkpoint does not depend on the parent version still being there.
    /// </summary>
    public Func<CancellationToken, Task<string>>? InitialCheckpoint(TrainRequest request) =>
        request.InitFrom is { } source
            ? async cancellationToken => FineTuneRules.Pick(source, await ReadAsync(source, cancellationToken)).Checkpoint
            : null;

    private async Task<RegisteredModel> ReadAsync(ModelVersionRef source, CancellationToken cancellationToken)
    {
        try
        {
            return await registry.GetModelAsync(new GetModelRequest { Model = source.Model }, cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            throw FineTuneRules.Refused(source, [new("init_from.model", $"model '{source.Model}' is not registered; see the registry's models")]);
        }
    }
}
