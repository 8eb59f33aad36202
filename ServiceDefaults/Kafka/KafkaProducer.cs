using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// The service's one Kafka producer (librdkafka producers are thread-safe and meant to be
/// shared). Every message gets a <c>send</c> span and the trace context in its headers.
/// </summary>
public sealed class KafkaProducer : IDisposable
{
    private readonly Lazy<IProducer<string, byte[]>> _producer;

    public KafkaProducer(IOptions<KafkaOptions> options, ILogger<KafkaProducer> logger)
    {
        // Options are read on first use, not here: services are constructed before options are
        // validated at start, and validation should report every bad setting together.
        _producer = new Lazy<IProducer<string, byte[]>>(() =>
            new ProducerBuilder<string, byte[]>(KafkaClientConfig.ForProducer(options.Value))
                .SetLogHandler((_, message) => KafkaClientConfig.Log(logger, message))
                .Build());
    }

    /// <summary>The underlying client handle, for admin calls on the same connection.</summary>
    public Handle Handle => _producer.Value.Handle;

    /// <summary>Produces one message and waits for the broker's acknowledgement.</summary>
    public async Task<DeliveryResult<string, byte[]>> ProduceAsync(
        string topic, string key, byte[] value, Headers? headers = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        using var activity = KafkaTelemetry.StartSend(topic, key);
        var message = new Message<string, byte[]> { Key = key, Value = value, Headers = headers ?? [] };
        KafkaTelemetry.Inject(activity, message.Headers);
        try
        {
            var result = await _producer.Value.ProduceAsync(topic, message, cancellationToken);
            activity?.SetTag("messaging.destination.partition.id", result.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity?.SetTag("messaging.kafka.offset", result.Offset.Value);
            return result;
        }
        catch (ProduceException<string, byte[]> e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Error.Reason);
            activity?.SetTag("error.type", e.Error.Code.ToString());
            throw;
        }
    }

    /// <summary>Waits until queued messages are delivered (for shutdown).</summary>
    public void Flush(TimeSpan timeout)
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(timeout);
        }
    }

    public void Dispose()
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(TimeSpan.FromSeconds(5));
            _producer.Value.Dispose();
        }
    }
}
