using System.Diagnostics;
using Yarp.ReverseProxy.Transforms;

namespace MsSwift.Gateway.Telemetry;

/// <summary>
/// The trace continues into the backend with the gateway's request span as the parent: each
/// forwarded request gets that span's <c>traceparent</c> (and <c>tracestate</c>, baggage), replacing
/// whatever the caller sent. The forwarder's HttpClient makes no span of its own: with OpenTelemetry's
/// HttpClient instrumentation on, it would start a second activity per call (created, tagged,
/// enriched by a diagnostic listener, exported), which the gateway's profile showed as the largest
/// single telemetry cost, for a span that only repeats the request span's timing. HttpClient's
/// metrics for these calls stay.
/// </summary>
internal static class ForwardedTraceContext
{
    public static IReverseProxyBuilder AddForwardedTraceContext(this IReverseProxyBuilder proxy) => proxy
        // Without a propagator SocketsHttpHandler leaves its DiagnosticsHandler out: no client activity.
        .ConfigureHttpClient((_, handler) => handler.ActivityHeadersPropagator = null)
        .AddTransforms(builder =>
        {
            var propagator = DistributedContextPropagator.Current;
            var fields = propagator.Fields.ToArray();
            builder.AddRequestTransform(context =>
            {
                var request = context.ProxyRequest;
                // YARP copied the caller's headers: the caller's trace context must not reach the backend as ours.
                foreach (var field in fields)
                {
                    request.Headers.Remove(field);
                }

                propagator.Inject(Activity.Current, request, static (carrier, name, value) =>
                    ((HttpRequestMessage)carrier!).Headers.TryAddWithoutValidation(name, value));
                return ValueTask.CompletedTask;
            });
        });
}
