namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// Kafka client settings. The bootstrap servers come from <c>ConnectionStrings:kafka</c> (set by
/// the AppHost's <c>WithReference(kafka)</c>); the rest from the <c>Kafka</c> section.
/// </summary>
public sealed class KafkaOptions
{
    public const string SectionName = "Kafka";
    public const string ConnectionStringName = "kafka";
    public const string ConnectionStringKey = "ConnectionStrings:" + ConnectionStringName;

    /// <summary>host:port[,host:port...] of the brokers.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>Client id sent to the broker; defaults to the service's application name.</summary>
    public string? ClientId { get; set; }

    /// <summary>Consumer group session timeout. Short in development so a restarted consumer rejoins fast.</summary>
    public int SessionTimeoutMs { get; set; } = 10_000;

    /// <summary>How long a produce may take, retries included, before it fails.</summary>
    public int MessageTimeoutMs { get; set; } = 30_000;

    /// <summary>Time budget of the broker health check.</summary>
    public int HealthCheckTimeoutMs { get; set; } = 5_000;

    /// <summary>Exactly-once per partition on the producer side; keep on.</summary>
    public bool EnableIdempotence { get; set; } = true;

    /// <summary>Create the product's topics at start when the broker lacks them (needs the CreateTopics permission).</summary>
    public bool CreateTopics { get; set; } = true;

    /// <summary>Partitions of a topic this service creates (the dev broker's count).</summary>
    public int TopicPartitions { get; set; } = 4;

    /// <summary>Replicas of a topic this service creates; -1 takes the broker's <c>default.replication.factor</c>.</summary>
    public int TopicReplicationFactor { get; set; } = -1;
}
