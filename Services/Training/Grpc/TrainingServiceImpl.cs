using Grpc.Core;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Errors;
using MsSwift.Training.Jobs;

namespace MsSwift.Training.Grpc;

/// <summary>ModelService.Train and CancelTrain on any coordinator (Predict is served by inference).</summary>
internal sealed class TrainingServiceImpl(JobCoordinator coordinator) : ModelService.ModelServiceBase
{
    public override async Task Train(TrainRequest request, IServerStreamWriter<TrainStatus> responseStream, ServerCallContext context)
    {
        var jobId = request.JobId;
        if (jobId.Length == 0)
        {
            jobId = (await coordinator.StartAsync(request, context.CancellationToken)).JobId;
        }
        else if (request.Dataset.Length > 0)
        {
            throw new ServiceException(ServiceError.InvalidArgument, "set job_id to re-attach, or dataset (and no job_id) to start a job, not both");
        }

        // A caller that goes away stops this stream only; the job carries on.
        await foreach (var status in coordinator.WatchAsync(jobId, context.CancellationToken))
        {
            await responseStream.WriteAsync(status, context.CancellationToken);
        }
    }

    public override Task<TrainStatus> CancelTrain(CancelTrainRequest request, ServerCallContext context) =>
        coordinator.CancelAsync(request.JobId);
}
