using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>Which consume loops run and which stopped on a fatal error; a stopped one makes the service unready.</summary>
public sealed class KafkaConsumerHealth : IHealthCheck
{
    private readonly ConcurrentDictionary<string, string?> _groups = new();

    internal void Running(string group) => _groups[group] = null;

    internal void Stopped(string group, string reason) => _groups[group] = reason;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stopped = _groups.Where(group => group.Value is not null).Select(group => $"{group.Key}: {group.Value}").ToList();
        return Task.FromResult(stopped.Count == 0
            ? HealthCheckResult.Healthy($"{_groups.Count} consumer loop(s) running")
            : new HealthCheckResult(context.Registration.FailureStatus, "consumer loop stopped: " + string.Join("; ", stopped)));
    }
}
