using System.Globalization;
using System.Text.Json.Nodes;
using Google.Rpc;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// REST errors as the protocol defines them: a non-200 status with the body <c>{"error": "message"}</c>.
/// 400 for a request that cannot be served as sent, 404 for an unknown model or version (as
/// KServe's own server answers), 429 and 503 with <c>Retry-After</c> when the replica is full or
/// the version is being reloaded, 500 otherwise.
/// </summary>
internal static class OipErrors
{
    public static IResult BadRequest(string message) => Error(StatusCodes.Status400BadRequest, message);

    public static IResult From(PredictException error) => error.Code switch
    {
        Code.InvalidArgument => Error(StatusCodes.Status400BadRequest, error.Status.Message),
        Code.NotFound => Error(StatusCodes.Status404NotFound, error.Status.Message),
        Code.ResourceExhausted => Error(StatusCodes.Status429TooManyRequests, error.Status.Message, retryAfterSeconds: 1),
        Code.Unavailable => Error(StatusCodes.Status503ServiceUnavailable, error.Status.Message, retryAfterSeconds: 1),
        _ => Error(StatusCodes.Status500InternalServerError, error.Status.Message),
    };

    public static IResult Error(int status, string message, int? retryAfterSeconds = null)
    {
        var result = Results.Json(new JsonObject { ["error"] = message }, statusCode: status);
        return retryAfterSeconds is { } seconds ? new RetryAfter(result, seconds) : result;
    }

    private sealed class RetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
