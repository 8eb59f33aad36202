using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using MsSwift.Gateway.Telemetry;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// Answers a request the gateway refuses itself, in the caller's protocol: gRPC callers get a
/// trailers-only response with the matching status code (so clients raise RpcException with
/// e.g. Unauthenticated), HTTP callers get ProblemDetails with the HTTP status, except callers of
/// the Open Inference Protocol's REST API (<c>/v2</c>), who get its own <c>{"error": "..."}</c> body
/// so tritonclient and KServe clients show the reason.
/// </summary>
internal static class GatewayRejection
{
    public static Task WriteAsync(HttpContext context, int httpStatus, StatusCode grpcStatus, string title, string detail, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        context.RequestServices.GetRequiredService<GatewayMetrics>().Rejected(title);
        if (retryAfter is { } wait)
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        if (IsGrpc(context.Request))
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = ((int)grpcStatus).ToString(CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = Uri.EscapeDataString(detail);
            return Task.CompletedTask;
        }

        response.StatusCode = httpStatus;
        if (IsOpenInferenceProtocol(context.Request))
        {
            return response.WriteAsJsonAsync(new OipError($"{title}: {detail}"), context.RequestAborted);
        }

        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = httpStatus, Title = title, Detail = detail },
        }).AsTask();
    }

    public static bool IsGrpc(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    private static bool IsOpenInferenceProtocol(HttpRequest request) => request.Path.StartsWithSegments("/v2", StringComparison.Ordinal);

    public static void AddWwwAuthenticate(HttpContext context) =>
        context.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
}

/// <summary>The Open Inference Protocol's REST error body.</summary>
/// <param name="Error">What went wrong.</param>
internal sealed record OipError(string Error);
