using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Grpc;

/// <summary>
/// ModelService.Predict and PredictStream over <see cref="PredictExecutor"/>. The caller's
/// deadline and cancellation reach the batcher, which drops the sequence at its next step.
/// </summary>
internal sealed class ModelServiceImpl(PredictExecutor executor) : ModelService.ModelServiceBase
{
    public override async Task<PredictResponse> Predict(PredictRequest request, ServerCallContext context)
    {
        try
        {
            return await executor.PredictAsync(request, PredictExecutor.Grpc, context.CancellationToken, Pins(context));
        }
        catch (PredictException error)
        {
            throw error.Status.ToRpcException();
        }
    }

    public override async Task PredictStream(PredictRequest request, IServerStreamWriter<PredictChunk> responseStream, ServerCallContext context)
    {
        await using var events = executor.StreamAsync(request, PredictExecutor.Grpc, context.CancellationToken, Pins(context)).GetAsyncEnumerator(context.CancellationToken);
        try
        {
            while (await events.MoveNextAsync())
            {
                var chunk = events.Current.Result is { } result
                    ? new PredictChunk { Result = result }
                    : new PredictChunk { OutputData = ByteString.CopyFromUtf8(events.Current.Text) };
                await responseStream.WriteAsync(chunk, context.CancellationToken);
            }
        }
        catch (PredictException error)
        {
            throw error.Status.ToRpcException();
        }
    }

    private static VersionPins Pins(ServerCallContext context) => VersionPins.Parse(context.RequestHeaders.GetValue(MsSwiftHeaders.VersionPins));
}
