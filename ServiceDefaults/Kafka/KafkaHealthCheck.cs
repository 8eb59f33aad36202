using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// Healthy when a broker answers a metadata request on the producer's connection; otherwise the
/// registration's failure status (Unhealthy for services that cannot work without Kafka).
/// </summary>
internal sealed class KafkaHealthCheck(KafkaProducer producer, IOptions<KafkaOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var timeout = TimeSpan.FromMilliseconds(options.Value.HealthCheckTimeoutMs);
        try
        {
            // GetMetadata blocks; keep it off the request thread.
            var metadata = await Task.Run(() =>
            {
                using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
                return admin.GetMetadata(timeout);
            }, cancellationToken);

            return metadata.Brokers.Count > 0
                ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s), {metadata.Topics.Count} topic(s)")
                : new HealthCheckResult(context.Registration.FailureStatus, "the cluster reported no brokers");
        }
        catch (KafkaException e)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Kafka at {options.Value.BootstrapServers} did not answer: {e.Error.Reason}", e);
        }
    }
}
