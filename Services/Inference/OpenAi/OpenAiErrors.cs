using Google.Rpc;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.OpenAi;

/// <summary>Errors in OpenAI's shape: <c>{"error": {"message", "type", "param", "code"}}</c> with the matching HTTP status.</summary>
internal static class OpenAiErrors
{
    private static readonly Dictionary<string, string> Parameters = new()
    {
        ["parameters.max_new_tokens"] = "max_tokens",
        ["parameters.temperature"] = "temperature",
        ["parameters.top_p"] = "top_p",
        ["parameters.top_k"] = "top_k",
        ["parameters.stop"] = "stop",
    };

    public static IResult InvalidRequest(string param, string message) =>
        Error(StatusCodes.Status400BadRequest, new ErrorBody($"{param}: {message}", "invalid_request_error", param, null));

    /// <param name="error">The serving error.</param>
    /// <param name="inputParam">The request field that carried the prompt (prompt or messages).</param>
    public static IResult From(PredictException error, string inputParam)
    {
        var (status, body) = Describe(error, inputParam);
        return status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable
            ? new RetryAfterResult(Error(status, body), seconds: 1)
            : Error(status, body);
    }

    /// <summary>
    /// The error as a server-sent event's payload, for a failure after a stream has begun (its
    /// status line is already sent): OpenAI's clients raise it as an API error instead of seeing
    /// a stream that merely stopped.
    /// </summary>
    public static ErrorResponse StreamEvent(PredictException error, string inputParam) => new(Describe(error, inputParam).Body);

    private static (int Status, ErrorBody Body) Describe(PredictException error, string inputParam)
    {
        switch (error.Code)
        {
            case Code.InvalidArgument:
                var violation = error.Status.GetDetail<BadRequest>()?.FieldViolations.FirstOrDefault();
                var param = violation is null ? null : violation.Field == "input_data" ? inputParam : Parameters.GetValueOrDefault(violation.Field, violation.Field);
                var message = violation is null ? error.Status.Message : $"{param}: {violation.Description}";
                return (StatusCodes.Status400BadRequest, new ErrorBody(message, "invalid_request_error", param, null));
            case Code.NotFound:
                return (StatusCodes.Status404NotFound, new ErrorBody(error.Status.Message, "invalid_request_error", "model", "model_not_found"));
            case Code.ResourceExhausted:
                return (StatusCodes.Status429TooManyRequests, new ErrorBody(error.Status.Message, "rate_limit_error", null, "queue_full"));
            case Code.Unavailable:
                return (StatusCodes.Status503ServiceUnavailable, new ErrorBody(error.Status.Message, "server_error", null, "model_unavailable"));
            default:
                return (StatusCodes.Status500InternalServerError, new ErrorBody(error.Status.Message, "server_error", null, null));
        }
    }

    private static IResult Error(int status, ErrorBody body) => Results.Json(new ErrorResponse(body), statusCode: status);

    /// <summary>Adds <c>Retry-After</c> to another result.</summary>
    private sealed class RetryAfterResult(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
