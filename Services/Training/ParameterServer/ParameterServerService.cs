using Grpc.Core;
using MsSwift.Contracts.Training.V1;

namespace MsSwift.Training.ParameterServer;

/// <summary>
/// The parameter server's gRPC face: membership (join, heartbeat, leave), pull parameters, push
/// gradients (chunked streams). The job's refusals are <see cref="MsSwift.ServiceDefaults.Errors.ServiceException"/>s,
/// mapped by the service's interceptor; a job that stepped down here answers Unavailable.
/// </summary>
public sealed partial class ParameterServerService(ParameterServerJobs jobs, WireMetrics metrics) : MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerBase
{
    public override Task<JoinResponse> Join(JoinRequest request, ServerCallContext context) =>
        Served(request.JobId, job => Task.FromResult(job.Join(RequireWorker(request.WorkerId))));

    public override Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context) =>
        Served(request.JobId, job => Task.FromResult(new HeartbeatResponse { Step = job.Heartbeat(RequireWorker(request.WorkerId)) }));

    public override Task<LeaveResponse> Leave(LeaveRequest request, ServerCallContext context) =>
        Served(request.JobId, job =>
        {
            job.Leave(RequireWorker(request.WorkerId));
            return Task.FromResult(new LeaveResponse());
        });

    public override async Task PullParameters(PullRequest request, IServerStreamWriter<VectorChunk> responseStream, ServerCallContext context)
    {
        var (job, version, parameters, shards) = await Served(request.JobId, async job =>
        {
            var (version, parameters, shards) = await job.PullAsync(RequireWorker(request.WorkerId), context.CancellationToken);
            return (job, version, parameters, shards);
        });
        var header = new VectorHeader { JobId = job.JobId, WorkerId = request.WorkerId, Version = version, Format = job.Settings.Format, Shards = { shards } };
        foreach (var chunk in WireCodec.Encode(parameters, header))
        {
            await responseStream.WriteAsync(chunk, context.CancellationToken);
            metrics.Sent(chunk.Data.Length);
        }
    }

    public override async Task<PushResponse> PushGradients(IAsyncStreamReader<VectorChunk> requestStream, ServerCallContext context)
    {
        // The job is looked up, and the header checked against its model, before the gradient is allocated.
        ParameterServerJob? job = null;
        VectorHeader header;
        float[] gradient;
        try
        {
            (header, gradient) = await WireCodec.DecodeAsync(Counted(requestStream, context.CancellationToken), first =>
            {
                job = Job(first.JobId);
                if (first.Format != job.Settings.Format)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument, $"job '{job.JobId}' uses wire format {job.Settings.Format}, not {first.Format}"));
                }

                job.RequirePushable(RequireWorker(first.WorkerId), first.Version);
                return job.ParameterCount;
            }, context.CancellationToken);
        }
        catch (InvalidDataException error)
        {
            var subject = job is null ? "the gradient stream" : $"the gradient for job '{job.JobId}'";
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{subject}: {error.Message}"));
        }
        catch (ObjectDisposedException) when (job is not null)
        {
            throw SteppedDown(job.JobId);
        }

        var result = await Served(job!.JobId, target => target.SubmitAsync(RequireWorker(header.WorkerId), header.Version, header.Shards, gradient, header.Loss, header.Tokens, context.CancellationToken));
        return result.Applied is { } outcome
            ? new PushResponse { Version = outcome.Version, Loss = outcome.Loss, Workers = outcome.Workers, Dropped = { outcome.Dropped } }
            : new PushResponse { Version = header.Version, MoreShards = { result.MoreShards } };
    }

    /// <summary>Runs <paramref name="call"/> on the job served here; Unavailable once it stepped down (workers look for the new leader).</summary>
    private async Task<T> Served<T>(string jobId, Func<ParameterServerJob, Task<T>> call)
    {
        var job = Job(jobId);
        try
        {
            return await call(job);
        }
        catch (ObjectDisposedException)
        {
            throw SteppedDown(jobId);
        }
    }

    private static RpcException SteppedDown(string jobId) =>
        new(new Status(StatusCode.Unavailable, $"the parameter server of job '{jobId}' stepped down; find the new one and join again"));

    private async IAsyncEnumerable<VectorChunk> Counted(IAsyncStreamReader<VectorChunk> reader, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await reader.MoveNext(cancellationToken))
        {
            metrics.Received(reader.Current.Data.Length);
            yield return reader.Current;
        }
    }

    private ParameterServerJob Job(string jobId) =>
        jobs.Find(jobId) ?? throw new RpcException(new Status(StatusCode.NotFound, $"no parameter server for job '{jobId}' here"));

    /// <summary>
    /// A worker id is part of the job's status, events and logs: bounded, and plain (a host name,
    /// the process id and a random suffix, as <see cref="Workers.WorkerLoop"/> makes it).
    /// </summary>
    private static string RequireWorker(string workerId) =>
        WorkerIdPattern().IsMatch(workerId)
            ? workerId
            : throw new RpcException(new Status(StatusCode.InvalidArgument,
                workerId.Length == 0 ? "worker_id is required" : $"worker_id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (got {workerId.Length} characters)"));

    [System.Text.RegularExpressions.GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z")]
    private static partial System.Text.RegularExpressions.Regex WorkerIdPattern();
}
