using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Models;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Grpc;

/// <summary>
/// ModelService.Predict and PredictStream: validate, pick the version (production when none is
/// named), queue on that version's continuous batcher, and answer. The caller's deadline and
/// cancellation reach the batcher, which drops the sequence at its next step.
/// </summary>
internal sealed class ModelServiceImpl(ModelCatalog catalog) : ModelService.ModelServiceBase
{
    public override async Task<PredictResponse> Predict(PredictRequest request, ServerCallContext context)
    {
        var (served, handle) = Submit(request, context.CancellationToken);
        var result = await handle.Completion;
        return Response(request, served, result);
    }

    public override async Task PredictStream(PredictRequest request, IServerStreamWriter<PredictChunk> responseStream, ServerCallContext context)
    {
        var (served, handle) = Submit(request, context.CancellationToken);
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

        await responseStream.WriteAsync(new PredictChunk { Result = Response(request, served, result) }, context.CancellationToken);
    }

    private (ServedModel Served, GenerationHandle Handle) Submit(PredictRequest request, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            ServedModel served;
            try
            {
                served = catalog.Resolve(request.Model, request.ModelVersion);
            }
            catch (ModelNotFoundException error)
            {
                RpcErrors.NotFound(error.Message);
                throw; // unreachable
            }

            var (generation, violations) = PredictRequestMapper.Map(request, served);
            if (violations is not null)
            {
                RpcErrors.InvalidArgument(violations);
            }

            try
            {
                return (served, served.Batcher.Submit(generation!, cancellationToken));
            }
            catch (QueueFullException error)
            {
                RpcErrors.ResourceExhausted(error.Message);
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // The version was switched out between the lookup and the submit: look again.
            }
        }
    }

    private static PredictResponse Response(PredictRequest request, ServedModel served, GenerationResult result) => new()
    {
        OutputData = ByteString.CopyFromUtf8(result.Text),
        Model = served.Name,
        ModelVersion = served.Version,
        RequestId = request.RequestId,
        FinishReason = FinishReasonName(result.FinishReason),
        Usage = new Usage { PromptTokens = result.PromptTokens, CompletionTokens = result.Tokens.Count },
    };

    public static string FinishReasonName(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.EndOfText => "end_of_text",
        FinishReason.ContextFull => "context_full",
        _ => "length",
    };
}
