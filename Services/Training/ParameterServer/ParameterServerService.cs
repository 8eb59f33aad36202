using Grpc.Core;
using MsSwift.Contracts.Training.V1;

namespace MsSwift.Training.ParameterServer;

/// <summary>The parameter server's gRPC face: join, pull parameters, push gradients (chunked streams).</summary>
public sealed class ParameterServerService(ParameterServerJobs jobs, WireMetrics metrics) : MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerBase
{
    public override Task<JoinResponse> Join(JoinRequest request, ServerCallContext context) =>
        Task.FromResult(Job(request.JobId).Join(RequireWorker(request.WorkerId)));

    public override async Task PullParameters(PullRequest request, IServerStreamWriter<VectorChunk> responseStream, ServerCallContext context)
    {
        var job = Job(request.JobId);
        var (version, parameters) = job.Snapshot();
        var header = new VectorHeader { JobId = job.JobId, WorkerId = request.WorkerId, Version = version, Format = job.Settings.Format };
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
                return first.Format == job.Settings.Format
                    ? job.ParameterCount
                    : throw new RpcException(new Status(StatusCode.InvalidArgument, $"job '{job.JobId}' uses wire format {job.Settings.Format}, not {first.Format}"));
            }, context.CancellationToken);
        }
        catch (InvalidDataException error)
        {
            var subject = job is null ? "the gradient stream" : $"the gradient for job '{job.JobId}'";
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{subject}: {error.Message}"));
        }

        var target = job!; // the header check found it
        try
        {
            var outcome = await target.SubmitAsync(RequireWorker(header.WorkerId), header.Version, gradient, header.Loss, header.Tokens, context.CancellationToken);
            return new PushResponse { Version = outcome.Version, Loss = outcome.Loss, Workers = outcome.Workers, Dropped = { outcome.Dropped } };
        }
        catch (StaleStepException error)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, error.Message));
        }
        catch (ObjectDisposedException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"the parameter server of job '{target.JobId}' stepped down; find the new one and join again"));
        }
        catch (ArgumentException error)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, error.Message));
        }
    }

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

    private static string RequireWorker(string workerId) =>
        string.IsNullOrWhiteSpace(workerId) ? throw new RpcException(new Status(StatusCode.InvalidArgument, "worker_id is required")) : workerId;
}
