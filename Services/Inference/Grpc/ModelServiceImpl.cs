using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Models;
using MsSwift.Inference.Serving;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Grpc;

/// <summary>
/// ModelService.Predict and PredictStream over <see cref="PredictExecutor"/>. The caller's
/// deadline and cancellation reach the batcher, which drops the sequence at its next step.
/// </summary>
internal sealed class ModelServiceImpl(PredictExecutor executor) : ModelService.ModelServiceBase
{
    public override async Task<PredictResponse> Predict(PredictRequest request, ServerCallContext context)
    {
        var (served, handle) = Submit(request, context);
        return PredictExecutor.Response(request, served, await handle.Completion);
    }

    public override async Task PredictStream(PredictRequest request, IServerStreamWriter<PredictChunk> responseStream, ServerCallContext context)
    {
        var (served, handle) = Submit(request, context);
        var text = new StreamingText(served.Loaded.Tokenizer, handle.Request.Options.StopSequences);
        await foreach (var token in handle.Tokens.ReadAllAsync(context.CancellationToken))
        {
            if (text.Add(token) is { Length: > 0 } delta)
            {
                await responseStream.WriteAsync(new PredictChunk { OutputData = ByteString.CopyFromUtf8(delta) }, context.CancellationToken);
            }
        }

        var result = await handle.Completion;
        if (text.Finish(result) is { Length: > 0 } rest)
        {
            await responseStream.WriteAsync(new PredictChunk { OutputData = ByteString.CopyFromUtf8(rest) }, context.CancellationToken);
        }

        await responseStream.WriteAsync(new PredictChunk { Result = PredictExecutor.Response(request, served, result) }, context.CancellationToken);
    }

    private (ServedModel Served, GenerationHandle Handle) Submit(PredictRequest request, ServerCallContext context)
    {
        try
        {
            return executor.Submit(request, context.CancellationToken);
        }
        catch (PredictException error)
        {
            throw error.Status.ToRpcException();
        }
    }
}
