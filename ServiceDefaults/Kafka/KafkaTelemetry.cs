using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// Produce and consume spans named after the OpenTelemetry messaging conventions
/// (<c>send {topic}</c>, <c>process {topic}</c>), with W3C trace context carried in message
/// headers (<c>traceparent</c>, <c>tracestate</c>, <c>baggage</c>) so one trace follows a
/// request across Kafka.
/// </summary>
public static class KafkaTelemetry
{
    public const string ActivitySourceName = "MsSwift.Kafka";

    internal static readonly ActivitySource Source = new(ActivitySourceName);

    // W3C trace context and baggage, fixed rather than taken from the SDK's global default, so
    // the wire format does not depend on whether (or how) a process configured OpenTelemetry.
    private static readonly TextMapPropagator Propagator =
        new CompositeTextMapPropagator([new TraceContextPropagator(), new BaggagePropagator()]);

    internal static Activity? StartSend(string topic, string? key)
    {
        var activity = Source.StartActivity($"send {topic}", ActivityKind.Producer);
        if (activity is not null)
        {
            SetCommonTags(activity, topic, "send");
            if (key is not null)
            {
                activity.SetTag("messaging.kafka.message.key", key);
            }
        }

        return activity;
    }

    /// <summary>Writes the current trace context into <paramref name="headers"/>.</summary>
    public static void Inject(Activity? activity, Headers headers)
    {
        var context = activity?.Context ?? Activity.Current?.Context ?? default;
        if (context == default)
        {
            return;
        }

        Propagator.Inject(new PropagationContext(context, Baggage.Current), headers, static (carrier, name, value) =>
        {
            carrier.Remove(name);
            carrier.Add(name, Encoding.UTF8.GetBytes(value));
        });
    }

    /// <summary>
    /// Starts the <c>process {topic}</c> span for a consumed message, as a child of the producer's
    /// span. Dispose it when handling of the message ends.
    /// </summary>
    public static Activity? StartProcess<TKey, TValue>(ConsumeResult<TKey, TValue> result, string consumerGroup)
    {
        var parent = Propagator.Extract(default, result.Message.Headers, static (carrier, name) =>
            carrier is not null && carrier.TryGetLastBytes(name, out var bytes) ? [Encoding.UTF8.GetString(bytes)] : []);
        Baggage.Current = parent.Baggage;

        var activity = Source.StartActivity($"process {result.Topic}", ActivityKind.Consumer, parent.ActivityContext);
        if (activity is not null)
        {
            SetCommonTags(activity, result.Topic, "process");
            activity.SetTag("messaging.consumer.group.name", consumerGroup);
            activity.SetTag("messaging.destination.partition.id", result.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetTag("messaging.kafka.offset", result.Offset.Value);
            if (result.Message.Key is string key)
            {
                activity.SetTag("messaging.kafka.message.key", key);
            }
        }

        return activity;
    }

    private static void SetCommonTags(Activity activity, string topic, string operation)
    {
        activity.SetTag("messaging.system", "kafka");
        activity.SetTag("messaging.operation.type", operation);
        activity.SetTag("messaging.operation.name", operation);
        activity.SetTag("messaging.destination.name", topic);
    }
}
