using k8s.Models;

namespace MsSwift.Publish.Crds;

/// <summary>Strimzi's Kafka resources (kafka.strimzi.io/v1beta2), in KRaft mode with node pools.</summary>
public static class Strimzi
{
    public const string Version = "kafka.strimzi.io/v1beta2";

    /// <summary>The label that ties node pools and topics to their <see cref="Kafka"/> cluster.</summary>
    public const string ClusterLabel = "strimzi.io/cluster";
}

public sealed class Kafka() : CustomResource<KafkaSpec>(Strimzi.Version, nameof(Kafka));

public sealed class KafkaSpec
{
    public KafkaClusterSpec Kafka { get; set; } = new();

    public EntityOperatorSpec EntityOperator { get; set; } = new();
}

public sealed class KafkaClusterSpec
{
    public string Version { get; set; } = "";

    public List<KafkaListener> Listeners { get; set; } = [];

    public Dictionary<string, object> Config { get; set; } = [];
}

public sealed class KafkaListener
{
    public string Name { get; set; } = "";

    public int Port { get; set; }

    public string Type { get; set; } = "internal";

    public bool Tls { get; set; }

    /// <summary>Who may connect: Strimzi turns these into the listener's network policy.</summary>
    public List<V1NetworkPolicyPeer>? NetworkPolicyPeers { get; set; }
}

public sealed class EntityOperatorSpec
{
    /// <summary>Present (even empty) to run the topic operator, which creates the <see cref="KafkaTopic"/>s.</summary>
    public EmptySpec TopicOperator { get; set; } = new();
}

public sealed class EmptySpec;

public sealed class KafkaNodePool() : CustomResource<KafkaNodePoolSpec>(Strimzi.Version, nameof(KafkaNodePool));

public sealed class KafkaNodePoolSpec
{
    public int Replicas { get; set; }

    /// <summary><c>controller</c> and <c>broker</c>: KRaft nodes that are both, no ZooKeeper.</summary>
    public List<string> Roles { get; set; } = [];

    public KafkaStorage Storage { get; set; } = new();

    public V1ResourceRequirements? Resources { get; set; }
}

public sealed class KafkaStorage
{
    public string Type { get; set; } = "persistent-claim";

    public string Size { get; set; } = "";

    public string? Class { get; set; }

    public bool DeleteClaim { get; set; }
}

public sealed class KafkaTopic() : CustomResource<KafkaTopicSpec>(Strimzi.Version, nameof(KafkaTopic));

public sealed class KafkaTopicSpec
{
    /// <summary>The topic's name in Kafka, which may hold dots a Kubernetes name may too, but kept explicit.</summary>
    public string TopicName { get; set; } = "";

    public int Partitions { get; set; }

    public int Replicas { get; set; }

    public Dictionary<string, object>? Config { get; set; }
}
