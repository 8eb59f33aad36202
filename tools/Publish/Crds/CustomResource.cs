using k8s;
using k8s.Models;

namespace MsSwift.Publish.Crds;

/// <summary>
/// A custom resource the cluster's operators define (KEDA, Strimzi, Prometheus Operator). The
/// Kubernetes client ships no models for them, so these typed ones hold exactly the fields the
/// publisher writes; a strict load of the output into them proves no field is misspelt.
/// </summary>
public abstract class CustomResource<TSpec> : IKubernetesObject<V1ObjectMeta>
{
    protected CustomResource(string apiVersion, string kind)
    {
        ApiVersion = apiVersion;
        Kind = kind;
    }

    public string ApiVersion { get; set; }

    public string Kind { get; set; }

    public V1ObjectMeta Metadata { get; set; } = new();

    public TSpec Spec { get; set; } = default!;
}

/// <summary>The custom resources the publisher writes, by <c>apiVersion/kind</c>, for <see cref="KubernetesYaml"/>.</summary>
public static class CustomResources
{
    public static IDictionary<string, Type> TypeMap { get; } = new Dictionary<string, Type>
    {
        [$"{ScaledObject.Version}/{nameof(ScaledObject)}"] = typeof(ScaledObject),
        [$"{ServiceMonitor.Version}/{nameof(ServiceMonitor)}"] = typeof(ServiceMonitor),
        [$"{Strimzi.Version}/{nameof(Kafka)}"] = typeof(Kafka),
        [$"{Strimzi.Version}/{nameof(KafkaNodePool)}"] = typeof(KafkaNodePool),
        [$"{Strimzi.Version}/{nameof(KafkaTopic)}"] = typeof(KafkaTopic),
    };
}
