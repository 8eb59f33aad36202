using k8s.Models;
using MsSwift.Publish.Crds;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// The two overlays over the base: <c>dev</c>, one replica of everything on CPU images with
/// development credentials, and <c>gpu</c>, the base's replicas on CUDA images with model
/// services on GPU nodes, with placeholder credentials an operator replaces.
/// </summary>
public sealed class Overlays(Cluster cluster, Environment environment)
{
    /// <summary>What the gpu overlay's Secret holds until an operator sets real values; short enough that the gateway refuses it as an API key.</summary>
    public const string Placeholder = "REPLACE-ME";

    public void Dev(IDictionary<string, string> files)
    {
        var kustomization = new Kustomization
        {
            Comment = Publisher.Header + "\nDevelopment: one replica of everything, CPU images, development credentials (never use them elsewhere).",
            Namespace = cluster.Settings.Namespace,
        };
        kustomization.Bases.AddRange(["../../base", "../../state"]);
        kustomization.Resources.Add("namespace.yaml");
        files["overlays/dev/namespace.yaml"] = Publisher.Yaml([Namespace()]);

        foreach (var project in cluster.Projects.Where(project => project != Autoscaling.InferenceTarget))
        {
            JsonPatch(files, kustomization, "dev", "apps", "v1", "Deployment", project, [Replace("/spec/replicas", 1)]);
        }

        JsonPatch(files, kustomization, "dev", "keda.sh", "v1alpha1", nameof(ScaledObject), Autoscaling.InferenceTarget, [Replace("/spec/minReplicaCount", 1)]);
        var kafka = cluster.Settings.Kafka;
        JsonPatch(files, kustomization, "dev", "kafka.strimzi.io", "v1beta2", nameof(KafkaNodePool), "dual-role", [Replace("/spec/replicas", 1)]);
        JsonPatch(files, kustomization, "dev", "kafka.strimzi.io", "v1beta2", nameof(Crds.Kafka), kafka.Cluster,
        [
            .. State.ReplicationSettings.Select(key => Replace($"/spec/kafka/config/{key}", 1)),
        ]);
        foreach (var topic in MsSwift.Contracts.KafkaTopics.All)
        {
            JsonPatch(files, kustomization, "dev", "kafka.strimzi.io", "v1beta2", nameof(KafkaTopic), State.TopicResourceName(topic), [Replace("/spec/replicas", 1)]);
        }

        kustomization.Secrets.Add((Cluster.SecretName, environment.SecretValues(parameter => $"msswift-dev-{parameter}")));
        files["overlays/dev/kustomization.yaml"] = kustomization.Render();
    }

    public void Gpu(IDictionary<string, string> files)
    {
        var kustomization = new Kustomization
        {
            Comment = Publisher.Header + $"\nGPU: model services on CUDA images and GPU nodes ({cluster.Settings.Gpu.ResourceName}).\n"
                + $"Before applying: replace every {Placeholder} in secretGenerator below (or delete the generator and create\n"
                + $"Secret {Cluster.SecretName} yourself). For external Redis, Kafka and S3: drop ../../state and set their keys there.",
            Namespace = cluster.Settings.Namespace,
        };
        kustomization.Bases.AddRange(["../../base", "../../state"]);
        kustomization.Resources.Add("namespace.yaml");
        files["overlays/gpu/namespace.yaml"] = Publisher.Yaml([Namespace()]);
        foreach (var image in cluster.Settings.ModelServices.Select(cluster.ImageOf).Distinct())
        {
            kustomization.Images.Add((image, cluster.Settings.ImageTag + cluster.Settings.CudaTagSuffix));
        }

        foreach (var project in cluster.Settings.ModelServices)
        {
            var path = $"gpu-{project}.yaml";
            kustomization.StrategicMergePatches.Add(path);
            files[$"overlays/gpu/{path}"] = Publisher.Yaml([GpuPatch(project)]);
        }

        kustomization.Secrets.Add((Cluster.SecretName, environment.SecretValues(_ => Placeholder)));
        files["overlays/gpu/kustomization.yaml"] = kustomization.Render();
    }

    /// <summary>A GPU per pod, GPU nodes only (and their taints tolerated): a strategic merge patch of the Deployment.</summary>
    public V1Deployment GpuPatch(string project)
    {
        var gpu = cluster.Settings.Gpu;
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta { Name = project },
            Spec = new V1DeploymentSpec
            {
                Template = new V1PodTemplateSpec
                {
                    Spec = new V1PodSpec
                    {
                        NodeSelector = new Dictionary<string, string>(gpu.NodeSelector),
                        Tolerations = [.. gpu.TolerateTaints.Select(taint => new V1Toleration { Key = taint, OperatorProperty = "Exists", Effect = "NoSchedule" })],
                        Containers =
                        [
                            new V1Container
                            {
                                Name = project,
                                Resources = new V1ResourceRequirements
                                {
                                    // Extended resources are requested by their limit.
                                    Limits = new Dictionary<string, ResourceQuantity> { [gpu.ResourceName] = new(gpu.PerPod.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
                                },
                            },
                        ],
                    },
                },
            },
        };
    }

    private V1Namespace Namespace() => new()
    {
        ApiVersion = "v1",
        Kind = "Namespace",
        Metadata = new V1ObjectMeta
        {
            Name = cluster.Settings.Namespace,
            Labels = new Dictionary<string, string>
            {
                [Cluster.PartOfLabel] = Cluster.PartOf,
                // The product's own pods meet the restricted profile; Strimzi's meet baseline.
                ["pod-security.kubernetes.io/enforce"] = "baseline",
                ["pod-security.kubernetes.io/warn"] = "restricted",
            },
        },
    };

    private static void JsonPatch(IDictionary<string, string> files, Kustomization kustomization, string overlay, string group, string version, string kind, string name, IReadOnlyList<Dictionary<string, object>> operations)
    {
        var path = $"patches/{kind.ToLowerInvariant()}-{name}.yaml";
        kustomization.JsonPatches.Add((group, version, kind, name, path));
        files[$"overlays/{overlay}/{path}"] = Publisher.Yaml([operations]);
    }

    private static Dictionary<string, object> Replace(string path, object value) => new() { ["op"] = "replace", ["path"] = path, ["value"] = value };
}
