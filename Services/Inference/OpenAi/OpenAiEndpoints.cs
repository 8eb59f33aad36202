using System.Text.Json;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Models;
using MsSwift.Inference.Serving;
using MsSwift.ServiceDefaults;

namespace MsSwift.Inference.OpenAi;

/// <summary>
/// OpenAI-compatible HTTP API over the same serving path as gRPC: <c>GET /v1/models</c>,
/// <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c>, with server-sent events when
/// <c>stream</c> is true. A model is named <c>name</c> (its production version) or <c>name:version</c>.
/// </summary>
internal static class OpenAiEndpoints
{
    private const int DefaultCompletionTokens = 16;
    private const int DefaultChatTokens = 64;
    private const double DefaultTemperature = 1.0;

    public static IEndpointRouteBuilder MapOpenAiEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/models", ListModels);
        v1.MapPost("/completions", CompleteAsync);
        v1.MapPost("/chat/completions", ChatAsync);
        return app;
    }

    private static IResult ListModels(ModelCatalog catalog, JsonSerializerOptions json)
    {
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var loaded = catalog.Loaded();
        var entries = loaded.Where(entry => entry.Production).Select(entry => entry.Model)
            .Concat(loaded.Select(entry => $"{entry.Model}:{entry.Version}"))
            .Select(id => new ModelEntry(id, "model", created, "msswift"))
            .ToList();
        return Results.Json(new ModelList("list", entries), json);
    }

    private static async Task<IResult> CompleteAsync(HttpContext http, PredictExecutor executor, JsonSerializerOptions json)
    {
        var (body, invalid) = await ReadAsync<CompletionRequest>(http, json);
        if (invalid is not null)
        {
            return invalid;
        }

        if (Prompt(body!.Prompt) is not { } prompt)
        {
            return OpenAiErrors.InvalidRequest("prompt", "must be a string of valid Unicode text (or a list holding one)");
        }

        if (CheckCommon(body.N, body.Stop, out var stops) is { } commonError)
        {
            return commonError;
        }

        var request = Build(body.Model, prompt, body.MaxTokens ?? DefaultCompletionTokens, body.Temperature, body.TopP, body.TopK, stops, body.Seed);
        var id = $"cmpl-{RandomIds.New()}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (body.Stream == true)
        {
            return await StreamAsync(http, executor, request, "prompt", GenerationTelemetry.TextCompletion, json, (text, finish, model, usage) =>
                new CompletionResponse(id, "text_completion", created, model, [new CompletionChoice(text ?? "", 0, null, finish)], usage));
        }

        try
        {
            var response = await executor.PredictAsync(request, PredictExecutor.Http, http.RequestAborted, Pins(http));
            return Results.Json(new CompletionResponse(id, "text_completion", created, ModelId(response),
                [new CompletionChoice(response.OutputData.ToStringUtf8(), 0, null, FinishReason(response.FinishReason))], Usage(response)), json);
        }
        catch (PredictException error)
        {
            return OpenAiErrors.From(error, "prompt");
        }
    }

    private static async Task<IResult> ChatAsync(HttpContext http, PredictExecutor executor, JsonSerializerOptions json)
    {
        var (body, invalid) = await ReadAsync<ChatCompletionRequest>(http, json);
        if (invalid is not null)
        {
            return invalid;
        }

        var (prompt, promptError) = ChatPrompt.Render(body!.Messages);
        if (promptError is not null)
        {
            return OpenAiErrors.InvalidRequest("messages", promptError);
        }

        if (CheckCommon(body.N, body.Stop, out var stops) is { } commonError)
        {
            return commonError;
        }

        var maxTokens = body.MaxCompletionTokens ?? body.MaxTokens ?? DefaultChatTokens;
        var request = Build(body.Model, prompt!, maxTokens, body.Temperature, body.TopP, body.TopK, stops, body.Seed);
        var id = $"chatcmpl-{RandomIds.New()}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (body.Stream == true)
        {
            var includeUsage = body.StreamOptions?.IncludeUsage == true;
            var first = true;
            return await StreamAsync(http, executor, request, "messages", GenerationTelemetry.Chat, json, (text, finish, model, usage) =>
            {
                var delta = new ChatDelta(first ? "assistant" : null, text);
                first = false;
                return new ChatCompletionChunk(id, "chat.completion.chunk", created, model,
                    usage is null || finish is not null ? [new ChatChunkChoice(0, delta, finish)] : [],
                    includeUsage ? usage : null);
            }, usageEvent: includeUsage);
        }

        try
        {
            var response = await executor.PredictAsync(request, PredictExecutor.Http, http.RequestAborted, Pins(http), GenerationTelemetry.Chat);
            return Results.Json(new ChatCompletionResponse(id, "chat.completion", created, ModelId(response),
                [new ChatChoice(0, new ChatResponseMessage("assistant", response.OutputData.ToStringUtf8()), FinishReason(response.FinishReason))],
                Usage(response)), json);
        }
        catch (PredictException error)
        {
            return OpenAiErrors.From(error, "messages");
        }
    }

    /// <summary>
    /// Server-sent events: one <c>data:</c> line per text piece, one with the finish reason, an
    /// optional usage event, then <c>data: [DONE]</c>. Errors found before the first piece are
    /// answered as plain JSON errors with the right status; one after it (the engine failed, the
    /// version was taken away) as a last event <c>data: {"error": {...}}</c>, without <c>[DONE]</c>.
    /// </summary>
    private static async Task<IResult> StreamAsync(
        HttpContext http, PredictExecutor executor, PredictRequest request, string inputParam, string operation, JsonSerializerOptions json,
        Func<string?, string?, string, CompletionUsage?, object> payload, bool usageEvent = false)
    {
        await using var events = executor.StreamAsync(request, PredictExecutor.Http, http.RequestAborted, Pins(http), operation).GetAsyncEnumerator(http.RequestAborted);
        bool more;
        try
        {
            more = await events.MoveNextAsync();
        }
        catch (PredictException error)
        {
            return OpenAiErrors.From(error, inputParam);
        }

        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await WriteEventsAsync(response, events, more, request.Model, inputParam, json, payload, usageEvent);
        return Results.Empty;
    }

    /// <summary>
    /// The events of a stream from <paramref name="events"/>' current one (<paramref name="more"/>:
    /// whether it has one), then [DONE]; or, when the stream fails, an error event in its place.
    /// </summary>
    internal static async Task WriteEventsAsync(
        HttpResponse response, IAsyncEnumerator<PredictStreamEvent> events, bool more, string model, string inputParam, JsonSerializerOptions json,
        Func<string?, string?, string, CompletionUsage?, object> payload, bool usageEvent)
    {
        while (more)
        {
            if (events.Current.Result is { } result)
            {
                model = ModelId(result);
                await WriteEventAsync(response, payload(null, FinishReason(result.FinishReason), model, null), json);
                if (usageEvent)
                {
                    await WriteEventAsync(response, payload(null, null, model, Usage(result)), json);
                }
            }
            else
            {
                await WriteEventAsync(response, payload(events.Current.Text, null, model, null), json);
            }

            try
            {
                more = await events.MoveNextAsync();
            }
            catch (PredictException error)
            {
                await WriteEventAsync(response, OpenAiErrors.StreamEvent(error, inputParam), json);
                return;
            }
        }

        await response.WriteAsync("data: [DONE]\n\n", response.HttpContext.RequestAborted);
    }

    private static async Task WriteEventAsync(HttpResponse response, object payload, JsonSerializerOptions json)
    {
        await response.WriteAsync("data: ", response.HttpContext.RequestAborted);
        await JsonSerializer.SerializeAsync(response.Body, payload, payload.GetType(), json, response.HttpContext.RequestAborted);
        await response.WriteAsync("\n\n", response.HttpContext.RequestAborted);
        await response.Body.FlushAsync(response.HttpContext.RequestAborted);
    }

    private static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpContext http, JsonSerializerOptions json) where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, json, http.RequestAborted);
            return body is null ? (null, OpenAiErrors.InvalidRequest("body", "must be a JSON object")) : (body, null);
        }
        catch (JsonException error)
        {
            return (null, OpenAiErrors.InvalidRequest("body", $"is not valid JSON for this endpoint: {error.Message}"));
        }
    }

    private static IResult? CheckCommon(int? n, JsonElement? stop, out List<string> stops)
    {
        stops = [];
        if (n is not (null or 1))
        {
            return OpenAiErrors.InvalidRequest("n", $"only 1 completion per request is supported, got {n}");
        }

        switch (stop)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return null;
            case { ValueKind: JsonValueKind.String } single when JsonText.StringOrNull(single) is { } text:
                stops.Add(text);
                return null;
            case { ValueKind: JsonValueKind.Array } many when many.EnumerateArray().All(item => JsonText.StringOrNull(item) is not null):
                stops.AddRange(many.EnumerateArray().Select(item => JsonText.StringOrNull(item)!));
                return null;
            default:
                return OpenAiErrors.InvalidRequest("stop", "must be a string or a list of strings");
        }
    }

    private static string? Prompt(JsonElement? prompt) => prompt switch
    {
        { ValueKind: JsonValueKind.String } text => JsonText.StringOrNull(text),
        { ValueKind: JsonValueKind.Array } list when list.GetArrayLength() == 1 => JsonText.StringOrNull(list[0]),
        _ => null,
    };

    private static PredictRequest Build(string? model, string prompt, int maxTokens, double? temperature, double? topP, int? topK, List<string> stops, long? seed)
    {
        var (name, version) = SplitModel(model);
        var parameters = new GenerationParameters
        {
            MaxNewTokens = maxTokens,
            Temperature = temperature ?? DefaultTemperature,
            TopK = topK ?? 0,
            TopP = topP ?? 1.0,
            Seed = seed,
        };
        parameters.Stop.AddRange(stops);
        return new PredictRequest { InputData = ByteString.CopyFromUtf8(prompt), Model = name, ModelVersion = version, Parameters = parameters };
    }

    private static (string Name, string Version) SplitModel(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            return ("", "");
        }

        var colon = model.LastIndexOf(':');
        return colon < 0 ? (model, "") : (model[..colon], model[(colon + 1)..]);
    }

    private static string ModelId(PredictResponse response) => $"{response.Model}:{response.ModelVersion}";

    private static CompletionUsage Usage(PredictResponse response) =>
        new(response.Usage.PromptTokens, response.Usage.CompletionTokens, response.Usage.PromptTokens + response.Usage.CompletionTokens);

    /// <summary>OpenAI knows "stop" (a stop sequence or the end of text) and "length" (a token limit).</summary>
    private static string FinishReason(string reason) => reason is "stop" or "end_of_text" ? "stop" : "length";

    private static VersionPins Pins(HttpContext http) => VersionPins.Parse(http.Request.Headers[MsSwiftHeaders.VersionPins]);
}
