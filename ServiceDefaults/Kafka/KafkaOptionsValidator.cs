using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>Rejects Kafka settings at start, naming the configuration key at fault.</summary>
internal sealed class KafkaOptionsValidator : IValidateOptions<KafkaOptions>
{
    public ValidateOptionsResult Validate(string? name, KafkaOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BootstrapServers))
        {
            failures.Add($"{KafkaOptions.ConnectionStringKey} is missing: set it to the brokers' host:port list (the AppHost sets it through WithReference(kafka))");
        }
        else if (options.BootstrapServers.Split(',').Any(server => !IsHostAndPort(server.Trim())))
        {
            failures.Add($"{KafkaOptions.ConnectionStringKey} must be a comma-separated host:port list, got '{options.BootstrapServers}'");
        }

        Range(failures, nameof(KafkaOptions.SessionTimeoutMs), options.SessionTimeoutMs, 1_000, 300_000);
        Range(failures, nameof(KafkaOptions.MessageTimeoutMs), options.MessageTimeoutMs, 1_000, 900_000);
        Range(failures, nameof(KafkaOptions.HealthCheckTimeoutMs), options.HealthCheckTimeoutMs, 100, 60_000);
        Range(failures, nameof(KafkaOptions.TopicPartitions), options.TopicPartitions, 1, 10_000);
        if (options.TopicReplicationFactor is not (-1 or (>= 1 and <= 32)))
        {
            failures.Add($"{KafkaOptions.SectionName}:{nameof(KafkaOptions.TopicReplicationFactor)} must be -1 (the broker's default) or between 1 and 32, got {options.TopicReplicationFactor}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Range(List<string> failures, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{KafkaOptions.SectionName}:{key} must be between {min} and {max}, got {value}");
        }
    }

    private static bool IsHostAndPort(string server)
    {
        var colon = server.LastIndexOf(':');
        return colon > 0
            && int.TryParse(server.AsSpan(colon + 1), out var port)
            && port is > 0 and <= 65535;
    }
}
