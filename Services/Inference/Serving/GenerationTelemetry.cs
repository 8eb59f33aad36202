using System.Diagnostics;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Models;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Serving;

/// <summary>
/// One span per generation, named and attributed after OpenTelemetry's GenAI conventions:
/// <c>{gen_ai.operation.name} {gen_ai.request.model}</c> with <c>gen_ai.request.*</c>,
/// <c>gen_ai.response.*</c> and <c>gen_ai.usage.*</c>. It is a child of the caller's span (the gRPC
/// or HTTP request, or the Kafka message being processed), opens when the request is submitted and
/// closes when generation ends however it ends, so its length is queueing plus the model's work;
/// queue time and time to first token are attributes, and events mark admission and the first token.
/// </summary>
/// <remarks>
/// The conventions define no attribute or event for queue time or time to first token (only
/// metrics), so those carry the product's prefix rather than squatting the <c>gen_ai</c> namespace.
/// </remarks>
internal static class GenerationTelemetry
{
    public const string ActivitySourceName = "MsSwift.Inference";

    /// <summary><c>gen_ai.operation.name</c> of a prompt completion (gRPC, Kafka, OIP, <c>/v1/completions</c>).</summary>
    public const string TextCompletion = "text_completion";

    /// <summary><c>gen_ai.operation.name</c> of <c>/v1/chat/completions</c>.</summary>
    public const string Chat = "chat";

    public const string ProviderName = "msswift";

    private static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>
    /// Starts the span, or returns null when no listener records it: a request nobody samples
    /// costs one sampling decision, and no name, tag or continuation is made for it.
    /// </summary>
    public static Activity? Start(string operation, PredictRequest request, string defaultModel)
    {
        var caller = Activity.Current;
        var activity = Source.StartActivity(operation, ActivityKind.Internal);
        if (activity is null)
        {
            return null;
        }

        if (!activity.IsAllDataRequested)
        {
            // Only propagated, never exported; nothing runs under it (the engine thread makes no spans).
            activity.Stop();
            return null;
        }

        // The span ends with the generation, not here: what the caller does next (writing the
        // response, producing the Kafka result) stays under the caller's own span.
        Activity.Current = caller;
        var model = string.IsNullOrEmpty(request.Model) ? defaultModel : request.Model;
        var requested = string.IsNullOrEmpty(request.ModelVersion) ? model : $"{model}:{request.ModelVersion}";
        activity.DisplayName = $"{operation} {requested}";
        activity.SetTag("gen_ai.operation.name", operation);
        activity.SetTag("gen_ai.provider.name", ProviderName);
        activity.SetTag("gen_ai.request.model", requested);
        return activity;
    }

    /// <summary>The request is queued on <paramref name="served"/>: tags what will run, and ends the span when the generation ends.</summary>
    public static void Submitted(Activity activity, ServedModel served, GenerationHandle handle)
    {
        var options = handle.Request.Options;
        activity.SetTag("gen_ai.response.model", $"{served.Name}:{served.Version}");
        activity.SetTag("gen_ai.request.max_tokens", options.MaxNewTokens);
        activity.SetTag("gen_ai.request.temperature", options.Temperature);
        activity.SetTag("gen_ai.request.top_p", options.TopP);
        if (options.TopK > 0)
        {
            activity.SetTag("gen_ai.request.top_k", options.TopK);
        }

        if (options.Seed is { } seed)
        {
            activity.SetTag("gen_ai.request.seed", seed);
        }

        if (options.StopSequences.Count > 0)
        {
            activity.SetTag("gen_ai.request.stop_sequences", options.StopSequences.ToArray());
        }

        handle.Completion.ContinueWith(
            static (completion, state) =>
            {
                var (span, generation) = ((Activity, GenerationHandle))state!;
                Ended(span, generation, completion);
            },
            (activity, handle), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The request was refused before it was queued.</summary>
    public static void Refused(Activity? activity, string errorType, string message)
    {
        if (activity is not null)
        {
            Fail(activity, errorType, message);
            activity.Stop();
        }
    }

    private static void Ended(Activity activity, GenerationHandle handle, Task<GenerationResult> completion)
    {
        // Events are dated from the handle's timestamps, taken on the engine thread as things happened.
        var now = TimeProvider.System.GetTimestamp();
        var nowUtc = TimeProvider.System.GetUtcNow();
        if (handle.AdmittedAt != 0)
        {
            activity.SetTag("msswift.queue_time_ms", TimeProvider.System.GetElapsedTime(handle.QueuedAt, handle.AdmittedAt).TotalMilliseconds);
            activity.AddEvent(new ActivityEvent("msswift.admitted", nowUtc - TimeProvider.System.GetElapsedTime(handle.AdmittedAt, now)));
        }

        if (handle.FirstTokenAt != 0)
        {
            activity.SetTag("msswift.time_to_first_token_ms", TimeProvider.System.GetElapsedTime(handle.QueuedAt, handle.FirstTokenAt).TotalMilliseconds);
            activity.AddEvent(new ActivityEvent("msswift.first_token", nowUtc - TimeProvider.System.GetElapsedTime(handle.FirstTokenAt, now)));
        }

        if (completion.IsCompletedSuccessfully)
        {
            var result = completion.Result;
            activity.SetTag("gen_ai.usage.input_tokens", result.PromptTokens);
            activity.SetTag("gen_ai.usage.output_tokens", result.Tokens.Count);
            activity.SetTag("gen_ai.response.finish_reasons", new[] { PredictExecutor.FinishReasonName(result.FinishReason) });
        }
        else
        {
            switch (completion.Exception?.InnerException)
            {
                case GenerationException error:
                    Fail(activity, PredictExecutor.Outcome(PredictException.From(error).Code), error.Message);
                    break;
                case OperationCanceledException or null:
                    Fail(activity, "cancelled", "the caller cancelled the request");
                    break;
                case var error:
                    Fail(activity, error.GetType().FullName!, error.Message);
                    break;
            }
        }

        activity.Stop();
    }

    private static void Fail(Activity activity, string errorType, string message)
    {
        activity.SetTag("error.type", errorType);
        activity.SetStatus(ActivityStatusCode.Error, message);
    }
}
