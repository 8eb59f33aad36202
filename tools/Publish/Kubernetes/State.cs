using k8s.Models;
using MsSwift.Contracts;
using MsSwift.Publish.Crds;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// The manifest's containers as state the cluster keeps: Redis and the object store as
/// StatefulSets on persistent volumes (the manifest's volumes become claims), Kafka as a Strimzi
/// cluster in KRaft mode with a <c>KafkaTopic</c> for every product topic.
/// </summary>
public sealed class State(Cluster cluster, Environment environment)
{
    /// <summary>The broker settings that follow the broker count (the dev overlay sets them to one broker's).</summary>
    public static readonly IReadOnlyList<string> ReplicationSettings =
        ["default.replication.factor", "min.insync.replicas", "offsets.topic.replication.factor", "transaction.state.log.replication.factor", "transaction.state.log.min.isr"];

    private const long RedisUser = 999;
    private const long MinioUser = 1000;

    public IEnumerable<object> For(string container) => cluster.StateKindOf(container) switch
    {
        StateKind.Redis => StatefulService(container, RedisUser, probe: new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "tcp" }, PeriodSeconds = 10 }, home: null),
        StateKind.ObjectStorage => StatefulService(container, MinioUser,
            probe: new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/minio/health/ready", Port = "http" }, PeriodSeconds = 10 },
            // MinIO keeps its certificate directory under $HOME, which must be writable.
            home: "/tmp"),
        StateKind.Kafka => Kafka(),
        _ => throw new InvalidOperationException(),
    };

    private IEnumerable<object> StatefulService(string name, long user, V1Probe probe, string? home)
    {
        var resource = cluster.Manifest[name];
        var (settings, secrets) = environment.Split(name);
        if (settings.Count > 0)
        {
            throw new InvalidDataException($"'{name}' has settings the publisher does not place: {string.Join(", ", settings.Keys)}");
        }

        var labels = Cluster.Labels(name, "state");
        var volumes = resource.Volumes ?? [];
        var storageClass = cluster.Settings.Storage.StorageClass.Length > 0 ? cluster.Settings.Storage.StorageClass : null;
        var size = cluster.StateKindOf(name) == StateKind.Redis ? cluster.Settings.Storage.RedisSize : cluster.Settings.Storage.CheckpointsSize;
        var sizing = cluster.Settings.For(name);
        List<V1EnvVar> env = [.. secrets];
        if (home is not null)
        {
            env.Add(new V1EnvVar { Name = "HOME", Value = home });
        }

        yield return new V1StatefulSet
        {
            ApiVersion = "apps/v1",
            Kind = "StatefulSet",
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Spec = new V1StatefulSetSpec
            {
                ServiceName = name,
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = Cluster.Selector(name) },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        AutomountServiceAccountToken = false,
                        EnableServiceLinks = false,
                        SecurityContext = new V1PodSecurityContext
                        {
                            RunAsNonRoot = true,
                            RunAsUser = user,
                            RunAsGroup = user,
                            FsGroup = user,
                            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                        },
                        Containers =
                        [
                            new V1Container
                            {
                                Name = name,
                                Image = resource.Image,
                                Command = resource.Entrypoint is { } entrypoint ? [entrypoint] : null,
                                Args = resource.Args?.ToList(),
                                Env = env,
                                Ports = resource.Endpoints.Select(binding => new V1ContainerPort { Name = binding.Key, ContainerPort = binding.Value.TargetPort, Protocol = "TCP" }).ToList(),
                                Resources = Workloads.Resources(sizing),
                                ReadinessProbe = probe,
                                LivenessProbe = probe with { PeriodSeconds = 20, FailureThreshold = 6 },
                                SecurityContext = Workloads.RestrictedContainer(),
                                VolumeMounts = [.. volumes.Select(volume => new V1VolumeMount { Name = volume.Name, MountPath = volume.Target, ReadOnlyProperty = volume.ReadOnly }), new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
                            },
                        ],
                        Volumes = [new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = "256Mi" } }],
                    },
                },
                VolumeClaimTemplates = volumes.Select(volume => new V1PersistentVolumeClaim
                {
                    Metadata = new V1ObjectMeta { Name = volume.Name, Labels = labels },
                    Spec = new V1PersistentVolumeClaimSpec
                    {
                        AccessModes = ["ReadWriteOnce"],
                        StorageClassName = storageClass,
                        Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(size) } },
                    },
                }).ToList(),
            },
        };
        yield return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Spec = new V1ServiceSpec
            {
                Type = "ClusterIP",
                Selector = Cluster.Selector(name),
                Ports = resource.Endpoints.Select(binding => new V1ServicePort { Name = binding.Key, Port = binding.Value.TargetPort, TargetPort = binding.Key, Protocol = "TCP" }).ToList(),
            },
        };
    }

    private IEnumerable<object> Kafka()
    {
        var kafka = cluster.Settings.Kafka;
        var replicas = kafka.Brokers;
        var clusterLabel = new Dictionary<string, string> { [Strimzi.ClusterLabel] = kafka.Cluster, [Cluster.PartOfLabel] = Cluster.PartOf };
        var clients = cluster.Projects.Where(project => cluster.DependenciesOf(project).Any(cluster.IsKafka)).ToList();
        yield return new KafkaNodePool
        {
            Metadata = new V1ObjectMeta { Name = "dual-role", Labels = clusterLabel },
            Spec = new KafkaNodePoolSpec
            {
                Replicas = replicas,
                // KRaft: every node is controller and broker; no ZooKeeper.
                Roles = ["controller", "broker"],
                Storage = new KafkaStorage
                {
                    Size = kafka.StorageSize,
                    Class = cluster.Settings.Storage.StorageClass.Length > 0 ? cluster.Settings.Storage.StorageClass : null,
                },
                Resources = Workloads.Resources(cluster.Settings.For("kafka")),
            },
        };
        yield return new Crds.Kafka
        {
            Metadata = new V1ObjectMeta
            {
                Name = kafka.Cluster,
                Labels = new Dictionary<string, string> { [Cluster.PartOfLabel] = Cluster.PartOf },
                Annotations = new Dictionary<string, string> { ["strimzi.io/node-pools"] = "enabled", ["strimzi.io/kraft"] = "enabled" },
            },
            Spec = new KafkaSpec
            {
                Kafka = new KafkaClusterSpec
                {
                    Version = kafka.Version,
                    Listeners =
                    [
                        new KafkaListener
                        {
                            Name = "plain",
                            Port = Cluster.KafkaPort,
                            Type = "internal",
                            Tls = false,
                            // Strimzi writes the listener's network policy from these: the services
                            // that use Kafka, and KEDA, which reads consumer lag.
                            NetworkPolicyPeers =
                            [
                                new V1NetworkPolicyPeer
                                {
                                    PodSelector = new V1LabelSelector
                                    {
                                        MatchExpressions = [new V1LabelSelectorRequirement { Key = Cluster.NameLabel, OperatorProperty = "In", Values = clients }],
                                    },
                                },
                                new V1NetworkPolicyPeer
                                {
                                    NamespaceSelector = new V1LabelSelector
                                    {
                                        MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = cluster.Settings.Observability.KedaNamespace },
                                    },
                                },
                            ],
                        },
                    ],
                    Config = new Dictionary<string, object>
                    {
                        // Topics come from KafkaTopic resources (and the services' own creation), never from a typo.
                        ["auto.create.topics.enable"] = false,
                        ["default.replication.factor"] = replicas,
                        ["min.insync.replicas"] = MinInSync(replicas),
                        ["offsets.topic.replication.factor"] = replicas,
                        ["transaction.state.log.replication.factor"] = replicas,
                        ["transaction.state.log.min.isr"] = MinInSync(replicas),
                    },
                },
                EntityOperator = new EntityOperatorSpec(),
            },
        };
        foreach (var topic in KafkaTopics.All)
        {
            yield return new KafkaTopic
            {
                Metadata = new V1ObjectMeta { Name = TopicResourceName(topic), Labels = clusterLabel },
                Spec = new KafkaTopicSpec { TopicName = topic, Partitions = kafka.Partitions, Replicas = replicas },
            };
        }
    }

    /// <summary>Kubernetes names cannot hold dots in every kind; topics are named with dashes.</summary>
    public static string TopicResourceName(string topic) => topic.Replace('.', '-');

    // A write survives one broker down where there are three.
    private static int MinInSync(int replicas) => replicas >= 3 ? 2 : 1;
}
