using System.Text.Json;

namespace MsSwift.Publish;

/// <summary>
/// What the manifest does not say about a cluster: image registry, sizes, GPU resources,
/// autoscaling targets, where Prometheus and the trace collector are. Read from
/// <c>deploy/publish.json</c>; every setting has a default here, and an unknown one is an error.
/// </summary>
public sealed class PublishSettings
{
    private static readonly JsonSerializerOptions Json = new()
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        AllowTrailingCommas = true,
    };

    /// <summary>Namespace every object goes into (set by the overlays).</summary>
    public string Namespace { get; init; } = "msswift";

    /// <summary>Registry and path the images are pushed to (<c>./build.sh images --registry</c> with the same value).</summary>
    public string ImageRegistry { get; init; } = "registry.example.com/msswift";

    /// <summary>Tag of the CPU images; the CUDA images of model services add <see cref="CudaTagSuffix"/>.</summary>
    public string ImageTag { get; init; } = "0.1.0";

    public string CudaTagSuffix { get; init; } = "-cuda";

    /// <summary>Manifest resources that run TorchSharp models: CUDA images and GPUs in the gpu overlay.</summary>
    public IReadOnlyList<string> ModelServices { get; init; } = ["training", "worker", "inference"];

    /// <summary>Per-service replicas and resources, by manifest resource name; <see cref="DefaultService"/> for the rest.</summary>
    public IReadOnlyDictionary<string, ServiceSettings> Services { get; init; } = new Dictionary<string, ServiceSettings>();

    public ServiceSettings DefaultService { get; init; } = new();

    public GpuSettings Gpu { get; init; } = new();

    public InferenceAutoscalingSettings InferenceAutoscaling { get; init; } = new();

    public KafkaSettings Kafka { get; init; } = new();

    public StorageSettings Storage { get; init; } = new();

    public ObservabilitySettings Observability { get; init; } = new();

    public ServiceSettings For(string service) => Services.GetValueOrDefault(service) ?? DefaultService;

    public static PublishSettings Load(string path) =>
        JsonSerializer.Deserialize<PublishSettings>(File.ReadAllText(path), Json) ?? new PublishSettings();
}

public sealed class ServiceSettings
{
    public int Replicas { get; init; } = 2;

    public string CpuRequest { get; init; } = "250m";

    public string MemoryRequest { get; init; } = "256Mi";

    public string CpuLimit { get; init; } = "1";

    public string MemoryLimit { get; init; } = "512Mi";

    /// <summary>Size of the writable <c>/tmp</c> (the root filesystem is read-only): checkpoint uploads are staged there.</summary>
    public string TmpSize { get; init; } = "1Gi";

    /// <summary>How long the startup probe gives the process (model loading included) before liveness takes over.</summary>
    public int StartupSeconds { get; init; } = 60;
}

public sealed class GpuSettings
{
    /// <summary>The extended resource a model pod asks for: <c>nvidia.com/gpu</c>, or a MIG slice such as <c>nvidia.com/mig-1g.10gb</c>.</summary>
    public string ResourceName { get; init; } = "nvidia.com/gpu";

    public int PerPod { get; init; } = 1;

    public IReadOnlyDictionary<string, string> NodeSelector { get; init; } = new Dictionary<string, string> { ["nvidia.com/gpu.present"] = "true" };

    /// <summary>Taint keys of GPU nodes that model pods tolerate (effect NoSchedule, operator Exists).</summary>
    public IReadOnlyList<string> TolerateTaints { get; init; } = ["nvidia.com/gpu"];
}

/// <summary>KEDA scaling of inference: requests per second and queue depth (Prometheus), CPU, and the async path's consumer lag (Kafka).</summary>
public sealed class InferenceAutoscalingSettings
{
    public int MinReplicas { get; init; } = 2;

    /// <summary>Also the partitions of the request topic: a consumer group cannot use more consumers than partitions.</summary>
    public int MaxReplicas { get; init; } = 8;

    public int RequestsPerSecondPerReplica { get; init; } = 20;

    /// <summary>Requests queued or generating per replica (<c>msswift_inference_requests_pending</c>).</summary>
    public int PendingRequestsPerReplica { get; init; } = 16;

    public int CpuUtilizationPercent { get; init; } = 75;

    /// <summary>Unconsumed asynchronous requests per replica.</summary>
    public int KafkaLagPerReplica { get; init; } = 32;

    public int CooldownSeconds { get; init; } = 300;
}

public sealed class KafkaSettings
{
    /// <summary>Name of the Strimzi <c>Kafka</c> cluster; its bootstrap service is <c>{name}-kafka-bootstrap</c>.</summary>
    public string Cluster { get; init; } = "msswift-kafka";

    public string Version { get; init; } = "4.1.0";

    public int Brokers { get; init; } = 3;

    public int Partitions { get; init; } = 8;

    public string StorageSize { get; init; } = "20Gi";
}

public sealed class StorageSettings
{
    /// <summary>Storage class of every volume claim; empty takes the cluster's default.</summary>
    public string StorageClass { get; init; } = "";

    public string RedisSize { get; init; } = "8Gi";

    public string CheckpointsSize { get; init; } = "100Gi";
}

public sealed class ObservabilitySettings
{
    /// <summary>OTLP endpoint of the trace, metric and log collector (OpenTelemetry Collector, Jaeger, Tempo).</summary>
    public string OtlpEndpoint { get; init; } = "http://otel-collector.observability.svc:4317";

    public string OtlpProtocol { get; init; } = "grpc";

    /// <summary>Prometheus that KEDA queries and Grafana reads.</summary>
    public string PrometheusAddress { get; init; } = "http://prometheus-operated.monitoring.svc:9090";

    /// <summary>Namespace Prometheus scrapes from: the only one that may reach the management (metrics) ports.</summary>
    public string MonitoringNamespace { get; init; } = "monitoring";

    /// <summary>Namespace of KEDA's operator, which reads consumer lag from Kafka.</summary>
    public string KedaNamespace { get; init; } = "keda";

    public string ScrapeInterval { get; init; } = "15s";
}
