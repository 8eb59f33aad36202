using System.Text.Json;
using System.Text.Json.Serialization;
using Confluent.Kafka;
using Google.Protobuf;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;
using MsSwift.Gateway.Auth;
using MsSwift.Gateway.Telemetry;
using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.Gateway.Async;

/// <summary>
/// <c>POST /async/predict</c>: the asynchronous predict path's front door. The gateway queues the
/// request on <see cref="KafkaTopics.InferenceRequests"/> (keyed by its request id, with the
/// caller's trace context in the message headers) and answers 202 at once; an inference replica
/// answers on <see cref="KafkaTopics.InferenceResults"/> under the same key, with the same trace.
/// The gateway checks the request's shape; generation parameters are checked by inference, and
/// a bad one comes back as an <c>InvalidArgument</c> result. The request id on Kafka is the
/// caller's (or the request's <c>x-request-id</c>, random when the caller sent none) prefixed
/// with the API key's name, <c>{key}/{id}</c>, and the 202 answer says so.
/// </summary>
internal static class AsyncPredictEndpoints
{
    public const string Path = "/async/predict";
    private const int MaxRequestIdLength = 128;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static void MapAsyncPredict(this IEndpointRouteBuilder app) =>
        app.MapPost(Path, QueueAsync).RequireAuthorization(Scopes.Inference);

    private static async Task<IResult> QueueAsync(HttpContext context, KafkaProducer producer)
    {
        AsyncPredictBody? body;
        try
        {
            body = await context.Request.ReadFromJsonAsync<AsyncPredictBody>(Json, context.RequestAborted);
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: not a JSON content type.
            return Invalid("body", $"a JSON object {{\"prompt\": \"...\", ...}}: {error.Message}");
        }

        if (body?.Prompt is not { Length: > 0 } prompt)
        {
            return Invalid("prompt", "required, not empty");
        }

        var callerId = body.RequestId ?? context.Request.Headers[RequestIdMiddleware.Header].ToString();
        if (callerId.Length is 0 or > MaxRequestIdLength || callerId.Any(char.IsControl))
        {
            return Invalid("request_id", $"1-{MaxRequestIdLength} printable characters");
        }

        // Scoped to the caller's key, so one key can neither claim nor read back another's request.
        var requestId = $"{context.User.Identity?.Name}/{callerId}";

        var request = new PredictRequest
        {
            InputData = ByteString.CopyFromUtf8(prompt),
            Model = body.Model ?? "",
            ModelVersion = body.ModelVersion ?? "",
            RequestId = requestId,
            Parameters = body.Parameters?.ToProto(),
        };
        try
        {
            await producer.ProduceAsync(KafkaTopics.InferenceRequests, requestId, request.ToByteArray(), cancellationToken: context.RequestAborted);
        }
        catch (KafkaException error)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The request could not be queued",
                detail: $"Kafka refused it: {error.Error.Reason}");
        }

        return Results.Accepted(value: new AsyncPredictAccepted(requestId, KafkaTopics.InferenceResults));
    }

    private static IResult Invalid(string field, string description) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [description] }, title: "The request is invalid");

    private sealed record AsyncPredictBody(string? RequestId, string? Model, string? ModelVersion, string? Prompt, AsyncPredictParameters? Parameters);

    private sealed record AsyncPredictParameters(int? MaxNewTokens, double? Temperature, int? TopK, double? TopP, IReadOnlyList<string>? Stop, long? Seed)
    {
        public GenerationParameters ToProto()
        {
            var parameters = new GenerationParameters
            {
                MaxNewTokens = MaxNewTokens, Temperature = Temperature ?? 0, TopK = TopK ?? 0, TopP = TopP, Seed = Seed,
            };
            parameters.Stop.Add(Stop ?? []);
            return parameters;
        }
    }

    private sealed record AsyncPredictAccepted(
        [property: JsonPropertyName("request_id")] string RequestId,
        [property: JsonPropertyName("results_topic")] string ResultsTopic);
}
