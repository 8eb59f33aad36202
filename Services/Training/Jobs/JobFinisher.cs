using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Training;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Ends a job that trained all its steps: registers its final checkpoint as a new model version
/// and marks it Succeeded. Only the job's current leader registers: it checks its fencing token
/// is still the newest first, and the registry registers one version per source job, so a
/// leader deposed between that check and the call (or a successor finishing the same job
/// again) returns the version already registered instead of adding a duplicate.
/// </summary>
public sealed class JobFinisher(ModelRegistryAdmin.ModelRegistryAdminClient registry)
{
    /// <summary>Registers and ends the job; false when this leader is stale (nothing was registered or written).</summary>
    public async Task<bool> FinishAsync(JobProgress progress, TrainRequest request, DatasetInfo dataset, string checkpointPrefix, EvaluationResult? evaluation, CancellationToken cancellationToken)
    {
        if (!await progress.StillLeadsAsync())
        {
            return false;
        }

        var trained = progress.Snapshot();
        var checkpoint = ParameterServerJob.ModelFile(checkpointPrefix);
        var metrics = new Dictionary<string, double> { ["train_loss"] = trained.Loss, ["steps"] = request.Steps, ["tokens"] = trained.Tokens };
        if (evaluation is not null)
        {
            metrics["eval_loss"] = evaluation.Loss;
            metrics["eval_perplexity"] = evaluation.Perplexity;
        }

        var registered = await registry.RegisterVersionAsync(
            JobRegistration.Request(request, progress.JobId, checkpoint, dataset.Version, metrics), cancellationToken: cancellationToken);
        var version = JobRegistration.VersionOf(registered, progress.JobId);
        return await progress.ApplyAsync((status, now) => JobRules.Succeed(status, request.Steps, checkpoint, registered.Name, version, now));
    }
}
