using k8s.Models;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// One project of the manifest as Kubernetes runs it: its settings ConfigMap, a Deployment
/// (probes on the health endpoints, requests and limits, non-root with a read-only root, rolling
/// updates that never take a replica away before its successor is ready), its Services (inference's
/// headless, for the gateway to balance its pods) and a PodDisruptionBudget.
/// </summary>
public sealed class Workloads(Cluster cluster, Environment environment)
{
    public const string AlivePath = "/alive";
    public const string ReadyPath = "/healthz";
    private const string TmpVolume = "tmp";

    public IEnumerable<object> For(string project)
    {
        var (settings, secrets) = environment.Split(project);
        settings["OTEL_SERVICE_NAME"] = project;
        if (cluster.IsPublic(project))
        {
            // The gateway balances inference pods itself: it resolves the headless Service's name to every ready pod.
            settings["Gateway__ReplicaHostNames__0"] = cluster.HostOf(Autoscaling.InferenceTarget);
        }

        if (cluster.DependenciesOf(project).Any(cluster.IsKafka))
        {
            // Topics a service creates itself (before the topic operator has) get the same partitions.
            settings["Kafka__TopicPartitions"] = cluster.Settings.Kafka.Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        yield return new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = Meta($"{project}-settings", project),
            Data = settings,
        };
        yield return Deployment(project, secrets);
        yield return Service(project);
        yield return MetricsService(project);
        yield return new V1PodDisruptionBudget
        {
            ApiVersion = "policy/v1",
            Kind = "PodDisruptionBudget",
            Metadata = Meta(project, project),
            Spec = new V1PodDisruptionBudgetSpec
            {
                // One voluntary eviction at a time: with two replicas or more, one keeps serving.
                MaxUnavailable = 1,
                Selector = new V1LabelSelector { MatchLabels = Cluster.Selector(project) },
            },
        };
    }

    private V1Deployment Deployment(string project, List<V1EnvVar> secrets)
    {
        var sizing = cluster.Settings.For(project);
        var resource = cluster.Manifest[project];
        var ports = resource.Endpoints.Select(binding => new V1ContainerPort { Name = binding.Key, ContainerPort = binding.Value.TargetPort, Protocol = "TCP" }).ToList();
        var autoscaled = project == Autoscaling.InferenceTarget;
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Meta(project, project),
            Spec = new V1DeploymentSpec
            {
                // KEDA owns the replica count of what it scales; a fixed one would be reset by every apply.
                Replicas = autoscaled ? null : sizing.Replicas,
                RevisionHistoryLimit = 5,
                Selector = new V1LabelSelector { MatchLabels = Cluster.Selector(project) },
                Strategy = new V1DeploymentStrategy
                {
                    Type = "RollingUpdate",
                    RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = 1, MaxUnavailable = 0 },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = Cluster.Labels(project, cluster.ComponentOf(project)) },
                    Spec = new V1PodSpec
                    {
                        AutomountServiceAccountToken = false,
                        EnableServiceLinks = false,
                        TerminationGracePeriodSeconds = cluster.IsModelService(project) ? 60 : 30,
                        SecurityContext = new V1PodSecurityContext
                        {
                            RunAsNonRoot = true,
                            RunAsUser = Cluster.AppUser,
                            RunAsGroup = Cluster.AppUser,
                            FsGroup = Cluster.AppUser,
                            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                        },
                        TopologySpreadConstraints = autoscaled ? SpreadOverNodesAndZones(project) : null,
                        Containers =
                        [
                            new V1Container
                            {
                                Name = project,
                                Image = $"{cluster.ImageOf(project)}:{cluster.Settings.ImageTag}",
                                Ports = ports,
                                Env = [.. PodIdentity(), .. secrets],
                                EnvFrom =
                                [
                                    new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = $"{project}-settings" } },
                                    new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = Cluster.TelemetryConfigMap } },
                                ],
                                Resources = Resources(sizing),
                                StartupProbe = Probe(AlivePath, periodSeconds: 5, failureThreshold: Math.Max(1, sizing.StartupSeconds / 5)),
                                LivenessProbe = Probe(AlivePath, periodSeconds: 10, failureThreshold: 3),
                                ReadinessProbe = Probe(ReadyPath, periodSeconds: 5, failureThreshold: 3),
                                SecurityContext = RestrictedContainer(),
                                VolumeMounts = [new V1VolumeMount { Name = TmpVolume, MountPath = "/tmp" }],
                            },
                        ],
                        // The root filesystem is read-only; .NET and checkpoint uploads write to /tmp.
                        Volumes = [new V1Volume { Name = TmpVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = sizing.TmpSize } }],
                    },
                },
            },
        };
    }

    /// <summary>The API ports: cluster-internal, except for the gateway, which a load balancer exposes.</summary>
    private V1Service Service(string project)
    {
        var bindings = cluster.Manifest[project].Endpoints.Where(binding => binding.Key != Cluster.ManagementBinding);
        return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = Meta(project, project),
            Spec = new V1ServiceSpec
            {
                Type = cluster.IsPublic(project) ? "LoadBalancer" : "ClusterIP",
                // Headless for inference: its name resolves to each ready pod, so the gateway balances requests
                // across pods (a ClusterIP balances connections, and one HTTP/2 connection carries them all).
                ClusterIP = project == Autoscaling.InferenceTarget ? "None" : null,
                Selector = Cluster.Selector(project),
                Ports = bindings.Select(binding => new V1ServicePort
                {
                    Name = binding.Key,
                    Port = binding.Value.TargetPort,
                    TargetPort = binding.Key,
                    Protocol = "TCP",
                    // Cleartext HTTP/2 for gRPC, so meshes and load balancers do not speak HTTP/1.1 to it.
                    AppProtocol = binding.Value.Transport == "http2" ? "kubernetes.io/h2c" : "http",
                }).ToList(),
            },
        };
    }

    /// <summary>The management port alone, for Prometheus (a ServiceMonitor selects these).</summary>
    private V1Service MetricsService(string project)
    {
        var metadata = Meta($"{project}-metrics", project);
        metadata.Labels[Cluster.MetricsLabel] = "true";
        return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = metadata,
            Spec = new V1ServiceSpec
            {
                Type = "ClusterIP",
                Selector = Cluster.Selector(project),
                Ports =
                [
                    new V1ServicePort
                    {
                        Name = Cluster.ManagementBinding,
                        Port = cluster.Manifest[project].Endpoints[Cluster.ManagementBinding].TargetPort,
                        TargetPort = Cluster.ManagementBinding,
                        Protocol = "TCP",
                        AppProtocol = "http",
                    },
                ],
            },
        };
    }

    public V1ObjectMeta Meta(string name, string project) => new()
    {
        Name = name,
        Labels = Cluster.Labels(project, cluster.ComponentOf(project)),
    };

    public static V1ResourceRequirements Resources(ServiceSettings sizing) => new()
    {
        Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(sizing.CpuRequest), ["memory"] = new(sizing.MemoryRequest) },
        Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(sizing.CpuLimit), ["memory"] = new(sizing.MemoryLimit) },
    };

    public static V1SecurityContext RestrictedContainer() => new()
    {
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = true,
        RunAsNonRoot = true,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
    };

    private static V1Probe Probe(string path, int periodSeconds, int failureThreshold) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = "http" },
        PeriodSeconds = periodSeconds,
        TimeoutSeconds = 3,
        FailureThreshold = failureThreshold,
    };

    // Traces and logs name the pod they came from.
    private static IEnumerable<V1EnvVar> PodIdentity() =>
    [
        new() { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
        new() { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } },
        new() { Name = "OTEL_RESOURCE_ATTRIBUTES", Value = "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)" },
    ];

    private static readonly string[] SpreadKeys = ["kubernetes.io/hostname", "topology.kubernetes.io/zone"];

    private static List<V1TopologySpreadConstraint> SpreadOverNodesAndZones(string project) =>
    [
        .. SpreadKeys.Select(key => new V1TopologySpreadConstraint
        {
            MaxSkew = 1,
            TopologyKey = key,
            // Prefer spreading; a cluster with one node or zone still schedules.
            WhenUnsatisfiable = "ScheduleAnyway",
            LabelSelector = new V1LabelSelector { MatchLabels = Cluster.Selector(project) },
        }),
    ];
}
