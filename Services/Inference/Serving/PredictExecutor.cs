using System.Runtime.CompilerServices;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Models;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Serving;

/// <summary>
/// The one way a predict request is served, whatever it came through (gRPC, Kafka, HTTP):
/// validate against the version that will serve it (production when none is named), then
/// queue it on that version's continuous batcher.
/// </summary>
public sealed class PredictExecutor(ModelCatalog catalog, RequestMetrics metrics, IHttpContextAccessor http, IOptions<InferenceOptions> options)
{
    public const string Grpc = "grpc";
    public const string Http = "http";
    public const string Kafka = "kafka";

    /// <summary>
    /// Queues <paramref name="request"/>; throws <see cref="PredictException"/> when it cannot be served.
    /// <paramref name="operation"/> names the generation's span (<see cref="GenerationTelemetry"/>).
    /// <paramref name="caller"/> scopes the prompt's prefix-cache entries; null: the caller the
    /// gateway named on the current HTTP or gRPC request.
    /// </summary>
    public (ServedModel Served, GenerationHandle Handle) Submit(
        PredictRequest request, string transport, CancellationToken cancellationToken, VersionPins? pins = null, string operation = GenerationTelemetry.TextCompletion,
        string? caller = null)
    {
        var span = GenerationTelemetry.Start(operation, request, catalog.DefaultModel);
        try
        {
            var (served, handle) = SubmitOnce(request, pins ?? VersionPins.None, PrefixScope(caller), cancellationToken);
            if (span is not null)
            {
                GenerationTelemetry.Submitted(span, served, handle);
            }

            return (served, handle);
        }
        catch (PredictException error)
        {
            var outcome = Outcome(error.Code);
            metrics.Record(transport, outcome);
            GenerationTelemetry.Refused(span, outcome, error.Message);
            throw;
        }
        catch (Exception error)
        {
            GenerationTelemetry.Refused(span, error.GetType().FullName!, error.Message);
            throw;
        }
    }

    private string? PrefixScope(string? caller)
    {
        if (options.Value.SharePrefixCacheAcrossCallers)
        {
            return null;
        }

        var named = caller ?? http.HttpContext?.Request.Headers[MsSwiftHeaders.Caller].ToString();
        return string.IsNullOrEmpty(named) ? null : named;
    }

    private (ServedModel Served, GenerationHandle Handle) SubmitOnce(PredictRequest request, VersionPins pins, string? prefixScope, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            ServedModel served;
            try
            {
                served = catalog.Resolve(request.Model, request.ModelVersion, pins);
            }
            catch (ModelNotFoundException error)
            {
                throw PredictException.NotFound(error.Message);
            }

            var (generation, violations) = PredictRequestMapper.Map(request, served);
            if (violations is not null)
            {
                throw PredictException.InvalidArgument(violations);
            }

            try
            {
                return (served, served.Batcher.Submit(generation! with { PrefixScope = prefixScope }, cancellationToken));
            }
            catch (QueueFullException error)
            {
                throw PredictException.ResourceExhausted(error.Message);
            }
            catch (BatcherClosedException) when (attempt < 3)
            {
                // The version was switched out (or is being reloaded) between the lookup and the submit: look again.
            }
            catch (BatcherClosedException error)
            {
                throw PredictException.Unavailable(error.Message);
            }
        }
    }

    /// <summary>Serves <paramref name="request"/> to the end.</summary>
    public async Task<PredictResponse> PredictAsync(
        PredictRequest request, string transport, CancellationToken cancellationToken, VersionPins? pins = null, string operation = GenerationTelemetry.TextCompletion,
        string? caller = null)
    {
        var (served, handle) = Submit(request, transport, cancellationToken, pins, operation, caller);
        return Response(request, served, await Completed(handle, transport));
    }

    /// <summary>
    /// Serves <paramref name="request"/> as a stream: text pieces as they become safe to show
    /// (never a partial character or the start of a stop sequence), then the final response.
    /// A request that cannot be served throws on the first <c>MoveNextAsync</c>, before anything is sent.
    /// </summary>
    public async IAsyncEnumerable<PredictStreamEvent> StreamAsync(
        PredictRequest request, string transport, [EnumeratorCancellation] CancellationToken cancellationToken, VersionPins? pins = null,
        string operation = GenerationTelemetry.TextCompletion)
    {
        var (served, handle) = Submit(request, transport, cancellationToken, pins, operation);
        var text = new StreamingText(served.Loaded.Tokenizer, handle.Request.Options.StopSequences);
        while (await NextTokenAsync(handle, transport, cancellationToken) is { } token)
        {
            if (text.Add(token) is { Length: > 0 } delta)
            {
                yield return new PredictStreamEvent(delta, null);
            }
        }

        var result = await Completed(handle, transport);
        if (text.Finish(result) is { Length: > 0 } rest)
        {
            yield return new PredictStreamEvent(rest, null);
        }

        yield return new PredictStreamEvent(null, Response(request, served, result));
    }

    /// <summary>The next generated token, or null once generation has ended; an engine failure surfaces as <see cref="PredictException"/>.</summary>
    private async ValueTask<int?> NextTokenAsync(GenerationHandle handle, string transport, CancellationToken cancellationToken)
    {
        try
        {
            return await handle.Tokens.WaitToReadAsync(cancellationToken) && handle.Tokens.TryRead(out var token) ? token : null;
        }
        catch (GenerationException error)
        {
            throw Failed(error, transport);
        }
    }

    private async Task<GenerationResult> Completed(GenerationHandle handle, string transport)
    {
        try
        {
            var result = await handle.Completion;
            metrics.Record(transport, "ok");
            return result;
        }
        catch (OperationCanceledException)
        {
            metrics.Record(transport, "cancelled");
            throw;
        }
        catch (GenerationException error)
        {
            throw Failed(error, transport);
        }
        catch
        {
            metrics.Record(transport, "error");
            throw;
        }
    }

    private PredictException Failed(GenerationException error, string transport)
    {
        var failure = PredictException.From(error);
        metrics.Record(transport, Outcome(failure.Code));
        return failure;
    }

    /// <summary>The <c>outcome</c> of a refused or failed request, as metrics and spans (<c>error.type</c>) name it.</summary>
    internal static string Outcome(Google.Rpc.Code code) => code switch
    {
        Google.Rpc.Code.InvalidArgument => "invalid_argument",
        Google.Rpc.Code.NotFound => "not_found",
        Google.Rpc.Code.ResourceExhausted => "resource_exhausted",
        Google.Rpc.Code.Unavailable => "unavailable",
        Google.Rpc.Code.Internal => "internal",
        _ => "error",
    };

    public static PredictResponse Response(PredictRequest request, ServedModel served, GenerationResult result) => new()
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

/// <summary>One event of a streamed prediction: a piece of text, or (last) the whole response.</summary>
public sealed record PredictStreamEvent(string? Text, PredictResponse? Result);
