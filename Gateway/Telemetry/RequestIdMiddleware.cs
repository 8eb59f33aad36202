using System.Diagnostics;
using MsSwift.ServiceDefaults;

namespace MsSwift.Gateway.Telemetry;

/// <summary>
/// Gives every request an <c>x-request-id</c> (the caller's, or a new random one), forwarded to the
/// backend and returned to the caller, and tags the request's trace with it. The W3C
/// <c>traceparent</c> is written by YARP's propagator from the gateway's own span.
/// </summary>
internal static class RequestIdMiddleware
{
    public const string Header = "x-request-id";
    private const int MaxLength = 128;

    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var requestId = context.Request.Headers[Header].ToString();
        if (requestId.Length is 0 or > MaxLength || HasControl(requestId))
        {
            // Never the trace id: every request under one parent span would share it, and the
            // asynchronous path answers an id once.
            requestId = RandomIds.New();
            context.Request.Headers[Header] = requestId;
        }

        context.Response.Headers[Header] = requestId;
        // AddTag, not SetTag: set once, so no search of the span's tags for an earlier value.
        Activity.Current?.AddTag("msswift.request_id", requestId);
        return next(context);
    });

    private static bool HasControl(string value)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }
}
