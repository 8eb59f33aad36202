using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.Data;
using MsSwift.Training.Jobs;
using ParameterServerClient = MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient;

namespace MsSwift.Training.Workers;

/// <summary>
/// The worker role: finds open jobs in Redis, holds one of a job's worker slots (its data shard)
/// with a heartbeat lease, and trains: each step a batch of its shard's windows from the data
/// service, the gradient to the parameter server. A slot whose worker died lapses and another
/// worker takes it; a worker dropped as a straggler joins again and pulls the latest parameters.
/// </summary>
internal sealed partial class WorkerLoop(
    JobRecords records, ParameterServerClient server, DataService.DataServiceClient data, ILogger<WorkerLoop> logger) : BackgroundService
{
    private static readonly TimeSpan SlotLease = TimeSpan.FromSeconds(10);
    private readonly string _workerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..^24];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var jobId in await records.OpenJobsAsync())
                {
                    if (await records.ReadAsync(jobId) is not { } job || JobCoordinator.IsTerminal(job.Status.State))
                    {
                        continue;
                    }

                    if (await records.ClaimSlotAsync(jobId, job.Request.Workers, _workerId, SlotLease) is { } slot)
                    {
                        await TrainAsync(jobId, job.Request, slot, stoppingToken);
                    }
                }
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogFailed(logger, error.Message);
            }

            await Task.Delay(500, stoppingToken);
        }
    }

    private async Task TrainAsync(string jobId, TrainRequest request, int slot, CancellationToken cancellationToken)
    {
        LogJoined(logger, jobId, slot);
        try
        {
            var dataset = await data.GetDatasetAsync(new GetDatasetRequest { Name = request.Dataset, Version = request.DatasetVersion }, cancellationToken: cancellationToken);
            using var replica = new GptModel(new GptConfig
            {
                Layers = request.Shape.Layers, Heads = request.Shape.Heads, Width = request.Shape.Width,
                ContextLength = request.Shape.ContextLength, VocabSize = dataset.VocabSize,
            });
            var precision = request.Precision == TrainPrecision.Bf16Mixed ? TrainingPrecision.Bf16Mixed : TrainingPrecision.Fp32;
            using var worker = new DataParallelWorker(server, jobId, _workerId, replica, new TrainingHyperparameters
            {
                TotalSteps = request.Steps, WarmupSteps = 0, AccumulationSteps = request.AccumulationSteps, Precision = precision,
            });
            var step = (await worker.JoinAsync(cancellationToken)).Step;
            while (step < request.Steps)
            {
                if (!await records.RenewSlotAsync(jobId, slot, _workerId, SlotLease))
                {
                    return;
                }

                var microBatches = await TrainingBatches.ForStepAsync(data, request, slot, step, cancellationToken);
                try
                {
                    step = (await worker.StepAsync(microBatches, request.WireFormat, cancellationToken)).Version;
                }
                catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition)
                {
                    // Dropped as a straggler, or the step moved on: join again at the current step.
                    step = (await worker.JoinAsync(cancellationToken)).Step;
                }
                finally
                {
                    microBatches.ForEach(batch => batch.Dispose());
                }
            }
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.NotFound or StatusCode.Unavailable)
        {
            // The job ended or its parameter server stepped down; the loop looks for work again.
            LogLeft(logger, jobId, error.Status.Detail);
        }
        finally
        {
            await records.ReleaseSlotAsync(jobId, slot);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker joined job {JobId} in slot {Slot}")]
    private static partial void LogJoined(ILogger logger, string jobId, int slot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker left job {JobId}: {Reason}")]
    private static partial void LogLeft(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker loop failed; retrying: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
