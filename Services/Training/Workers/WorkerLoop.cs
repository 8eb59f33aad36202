using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Training.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.Data;
using MsSwift.Training.Jobs;
using TorchSharp;

namespace MsSwift.Training.Workers;

/// <summary>
/// The worker role: finds open jobs with room (fewer members than their max_workers), joins the
/// job at its leader's address from the job store, and trains: each step the shards the leader
/// assigns, their batches from the data service, the gradient to the leader. A heartbeat keeps
/// its membership while a step computes. When the leader moves (it died, another coordinator took
/// over) the worker waits for the record to name the new one and joins it; when dropped, it joins
/// again; when the host stops (a scale-down), it leaves the job at once, so no step waits for it.
/// Idle, it waits for news of open jobs (<see cref="JobChanges.FollowOpenJobsAsync"/>).
/// </summary>
internal sealed partial class WorkerLoop(
    JobStore store, JobChanges changes, LeaderChannels leaders, DataService.DataServiceClient data, WorkerMetrics metrics, TorchThread torch, TimeProvider time,
    ILogger<WorkerLoop> logger) : BackgroundService
{
    private static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(3);
    // The host name only as far as the parameter server's id rule allows (letters, digits, '.', '_', '-'; 128 at most).
    private readonly string _workerId = $"w-{HostNameChars().Replace(Environment.MachineName, "-")[..Math.Min(64, Environment.MachineName.Length)]}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..^24];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var news = await changes.FollowOpenJobsAsync();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var jobId in await store.OpenJobsAsync())
                {
                    if (await store.ReadAsync(jobId) is { } record && HasRoom(record))
                    {
                        await TrainAsync(record, stoppingToken);
                    }
                }
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogFailed(logger, error.Message);
            }

            await news.WaitAsync(JobChanges.Fallback, time, stoppingToken);
        }
    }

    private static bool HasRoom(JobRecord record) =>
        !JobRules.IsTerminal(record.Status.State) && record.Leader.Length > 0 && record.Status.Members.Count < Math.Max(1, record.Request.MaxWorkers);

    /// <summary>Trains on the job until it ends or this host stops, following its leader wherever it moves.</summary>
    private async Task TrainAsync(JobRecord joined, CancellationToken stoppingToken)
    {
        var request = joined.Request;
        var dataset = await data.GetDatasetAsync(new GetDatasetRequest { Name = request.Dataset, Version = request.DatasetVersion }, cancellationToken: stoppingToken);
        using var replica = new GptModel(new GptConfig
        {
            Layers = request.Shape.Layers, Heads = request.Shape.Heads, Width = request.Shape.Width,
            ContextLength = request.Shape.ContextLength, VocabSize = dataset.VocabSize,
        });
        replica.to(TorchRuntime.Device);
        var hyperparameters = new TrainingHyperparameters
        {
            TotalSteps = request.Steps, WarmupSteps = 0, AccumulationSteps = request.AccumulationSteps,
            Precision = request.Precision == TrainPrecision.Bf16Mixed ? TrainingPrecision.Bf16Mixed : TrainingPrecision.Fp32,
        };
        ShardBatches batches = async (step, shards, cancellationToken) =>
        {
            var all = new List<TokenBatch>();
            foreach (var shard in shards)
            {
                all.AddRange(await TrainingBatches.ForStepAsync(data, request, shard, step, cancellationToken));
            }

            return all;
        };

        var jobId = joined.Status.JobId;
        var record = joined;
        while (record is not null && !stoppingToken.IsCancellationRequested)
        {
            using var worker = new DataParallelWorker(leaders.For(record.Leader), jobId, _workerId, replica, hyperparameters, torch);
            if (await TrainWithLeaderAsync(worker, jobId, request, batches, stoppingToken) == LeaderOutcome.Done)
            {
                return;
            }

            // The leader moved or stepped down: join whoever leads now, once the record names them.
            var now = await store.ReadAsync(jobId);
            record = now is not null && (now.Fence != record.Fence || now.Leader != record.Leader) ? now : await NextLeaderAsync(now ?? record, stoppingToken);
        }
    }

    private enum LeaderOutcome
    {
        Done,
        LeaderGone,
    }

    private async Task<LeaderOutcome> TrainWithLeaderAsync(DataParallelWorker worker, string jobId, TrainRequest request, ShardBatches batches, CancellationToken stoppingToken)
    {
        JoinResponse joined;
        try
        {
            joined = await worker.JoinAsync(stoppingToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.ResourceExhausted)
        {
            return LeaderOutcome.Done; // full: look for another job
        }
        catch (RpcException error) when (IsLeaderGone(error))
        {
            return LeaderOutcome.LeaderGone;
        }

        LogJoined(logger, worker.WorkerId, joined.Step);
        using var training = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var heartbeats = HeartbeatAsync(worker, TimeSpan.FromMilliseconds(Math.Max(100, joined.LeaseMilliseconds / 3)), training.Token);
        var left = false;
        try
        {
            var step = joined.Step;
            while (step < request.Steps)
            {
                try
                {
                    step = (await worker.StepAsync(batches, request.WireFormat, training.Token)).Version;
                    metrics.StepCompleted(jobId, worker.LastStep);
                    LogStep(logger, step, worker.LastStep.Pull.TotalMilliseconds, worker.LastStep.Data.TotalMilliseconds,
                        worker.LastStep.Compute.TotalMilliseconds, worker.LastStep.Push.TotalMilliseconds);
                }
                catch (RpcException error) when (error.StatusCode == StatusCode.FailedPrecondition)
                {
                    // Dropped (a straggler, a lapsed lease) or the step moved on: join again.
                    step = (await worker.JoinAsync(training.Token)).Step;
                }
            }

            return LeaderOutcome.Done;
        }
        catch (Exception error) when (stoppingToken.IsCancellationRequested && error is OperationCanceledException or RpcException)
        {
            // The host is stopping (a scale-down): the finally leaves the job, so no step waits for this worker.
            return LeaderOutcome.Done;
        }
        catch (RpcException error) when (IsLeaderGone(error))
        {
            LogLeft(logger, jobId, error.Status.Detail);
            left = true;
            return LeaderOutcome.LeaderGone;
        }
        finally
        {
            await training.CancelAsync();
            await heartbeats;
            if (!left)
            {
                await LeaveAsync(worker);
            }
        }
    }

    private static bool IsLeaderGone(RpcException error) =>
        error.StatusCode is StatusCode.Unavailable or StatusCode.NotFound or StatusCode.Internal or StatusCode.Cancelled or StatusCode.DeadlineExceeded;

    private async Task HeartbeatAsync(DataParallelWorker worker, TimeSpan interval, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, cancellationToken);
                await worker.HeartbeatAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (RpcException error) when (error.StatusCode != StatusCode.Cancelled)
            {
                // The step path sees the same problem and acts on it (joins again, follows the leader).
                LogHeartbeatFailed(logger, error.Status.Detail);
            }
        }
    }

    /// <summary>Leaves the job at once, so the leader hands this worker's shards to the others; best effort.</summary>
    private async Task LeaveAsync(DataParallelWorker worker)
    {
        try
        {
            using var timeout = new CancellationTokenSource(LeaveTimeout, time);
            await worker.LeaveAsync(timeout.Token);
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            // The leader is gone too, or slow: the lease lapses there.
        }
    }

    /// <summary>The job's record once it changed after <paramref name="failed"/> (a new leader, or the same one ready again); null when the job ended.</summary>
    private async Task<JobRecord?> NextLeaderAsync(JobRecord failed, CancellationToken cancellationToken)
    {
        await using var subscription = await changes.FollowAsync(failed.Status.JobId);
        while (!cancellationToken.IsCancellationRequested)
        {
            var record = await store.ReadAsync(failed.Status.JobId);
            if (record is null || JobRules.IsTerminal(record.Status.State))
            {
                return null;
            }

            if (record.Revision > failed.Revision && record.Leader.Length > 0)
            {
                return record;
            }

            await subscription.WaitAsync(JobChanges.Fallback, time, cancellationToken);
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} joined at step {Step}")]
    private static partial void LogJoined(ILogger logger, string workerId, long step);

    /// <summary>The benchmark (tools/Bench) reads this line's shape: keep the names.</summary>
    [LoggerMessage(Level = LogLevel.Debug, Message = "Step {Step} phases: pull {PullMs:F1} ms, data {DataMs:F1} ms, compute {ComputeMs:F1} ms, push {PushMs:F1} ms")]
    private static partial void LogStep(ILogger logger, long step, double pullMs, double dataMs, double computeMs, double pushMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker lost the leader of job {JobId}: {Reason}; following it")]
    private static partial void LogLeft(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker loop failed; retrying: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    [System.Text.RegularExpressions.GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial System.Text.RegularExpressions.Regex HostNameChars();
}
