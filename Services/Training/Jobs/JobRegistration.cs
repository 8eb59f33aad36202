using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;

namespace MsSwift.Training.Jobs;

/// <summary>
/// How a finished job registers its model: as a new version of the request's model, with the job as
/// its source (the registry registers a job once however often it is asked) and, for a fine-tune,
/// the version it started from as its parent.
/// </summary>
public static class JobRegistration
{
    public static RegisterVersionRequest Request(TrainRequest request, string jobId, string checkpoint, string datasetHash, IDictionary<string, double> metrics) => new()
    {
        Model = request.Model,
        Checkpoint = checkpoint,
        SourceJob = jobId,
        DatasetHash = datasetHash,
        Metrics = { metrics },
        // TrainRequestDefaults makes a fine-tune's model init_from's, so the parent is a version of the same model.
        ParentVersion = request.InitFrom?.Version ?? "",
    };

    /// <summary>The version the job registered: the one whose source is the job (not the newest, which another job may have added since).</summary>
    public static string VersionOf(RegisteredModel model, string jobId) =>
        model.Versions.LastOrDefault(version => version.SourceJob == jobId)?.Version
            ?? throw new InvalidOperationException($"the registry answered without a version of '{model.Name}' from job {jobId}");
}
