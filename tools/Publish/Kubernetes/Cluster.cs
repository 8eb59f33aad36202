using MsSwift.Publish.Manifest;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// The manifest as the cluster sees it: which resources are services and which are state, their
/// names, labels and in-cluster addresses, and which service calls which.
/// </summary>
public sealed class Cluster
{
    public const string PartOf = "msswift";
    public const string NameLabel = "app.kubernetes.io/name";
    public const string PartOfLabel = "app.kubernetes.io/part-of";
    public const string ComponentLabel = "app.kubernetes.io/component";

    /// <summary>On the Services Prometheus scrapes (each service's <c>-metrics</c> Service).</summary>
    public const string MetricsLabel = "msswift.io/metrics";

    /// <summary>The Secret holding credentials and the addresses of state (<c>ConnectionStrings__*</c>).</summary>
    public const string SecretName = "msswift-secrets";

    /// <summary>The ConfigMap with the trace, metric and log collector's address.</summary>
    public const string TelemetryConfigMap = "msswift-telemetry";

    public const string ManagementBinding = "management";

    /// <summary>The UID and GID of the .NET images' <c>app</c> user.</summary>
    public const long AppUser = 1654;

    public Cluster(AspireManifest manifest, PublishSettings settings)
    {
        Manifest = manifest;
        Settings = settings;
        foreach (var name in settings.ModelServices)
        {
            if (manifest[name].Type != AspireManifest.ProjectType)
            {
                throw new InvalidDataException($"model service '{name}' is not a project in the manifest");
            }
        }
    }

    public AspireManifest Manifest { get; }

    public PublishSettings Settings { get; }

    public IEnumerable<string> Projects => Manifest.Projects.Select(project => project.Name);

    public bool IsModelService(string name) => Settings.ModelServices.Contains(name);

    /// <summary>The projects that face the network (their bindings are marked external): the gateway.</summary>
    public bool IsPublic(string name) => Manifest[name].Endpoints.Values.Any(binding => binding.External);

    /// <summary>What a container resource of the manifest is run as.</summary>
    public StateKind StateKindOf(string name)
    {
        var image = Manifest[name].Image ?? "";
        return image switch
        {
            _ when image.Contains("/redis:", StringComparison.Ordinal) => StateKind.Redis,
            _ when image.Contains("/kafka:", StringComparison.Ordinal) => StateKind.Kafka,
            _ when image.Contains("/minio:", StringComparison.Ordinal) => StateKind.ObjectStorage,
            _ => throw new InvalidDataException($"container '{name}' ({image}) has no Kubernetes shape in the publisher: add one"),
        };
    }

    public bool IsKafka(string name) => Manifest[name].Type == AspireManifest.ContainerType && StateKindOf(name) == StateKind.Kafka;

    public IEnumerable<string> Containers =>
        Manifest.Resources.Where(entry => entry.Value.Type == AspireManifest.ContainerType).Select(entry => entry.Key);

    public string KafkaBootstrap => $"{Settings.Kafka.Cluster}-kafka-bootstrap:{KafkaPort}";

    public const int KafkaPort = 9092;

    /// <summary>The in-cluster DNS name of a resource: its Service, or Strimzi's bootstrap Service for Kafka.</summary>
    public string HostOf(string name) =>
        IsKafka(name)
            ? $"{Settings.Kafka.Cluster}-kafka-bootstrap"
            : name;

    /// <summary>Services listen on their target ports, so the Service port is the target port.</summary>
    public int PortOf(string name, string binding) =>
        IsKafka(name)
            ? KafkaPort
            : Manifest[name].Endpoints[binding].TargetPort;

    /// <summary>The image of a project: <c>msswift-</c> and its project name without <c>MsSwift.</c>, as the MSBuild container settings name it.</summary>
    public string ImageOf(string project)
    {
        var file = Path.GetFileNameWithoutExtension(Manifest[project].Path ?? throw new InvalidDataException($"'{project}' has no project path"));
        var shortName = file.StartsWith("MsSwift.", StringComparison.Ordinal) ? file["MsSwift.".Length..] : file;
        return $"{Settings.ImageRegistry}/msswift-{shortName.ToLowerInvariant()}";
    }

    /// <summary>The resources <paramref name="client"/>'s environment refers to: what it calls.</summary>
    public IReadOnlySet<string> DependenciesOf(string client) =>
        Manifest[client].Environment.Values
            .SelectMany(ManifestValues.References)
            .SelectMany(Expand)
            .Where(name => name != client && Manifest[name].Type is AspireManifest.ProjectType or AspireManifest.ContainerType)
            .ToHashSet();

    /// <summary>The projects that call <paramref name="server"/>.</summary>
    public IReadOnlyList<string> ClientsOf(string server) =>
        Projects.Where(client => DependenciesOf(client).Contains(server)).ToList();

    public static Dictionary<string, string> Labels(string name, string component) => new()
    {
        [NameLabel] = name,
        [PartOfLabel] = PartOf,
        [ComponentLabel] = component,
    };

    public static Dictionary<string, string> Selector(string name) => new() { [NameLabel] = name, [PartOfLabel] = PartOf };

    public string ComponentOf(string project) => IsPublic(project) ? "gateway" : IsModelService(project) ? "model" : "service";

    // A connection string refers on to the resources it is made of (Redis's to its password).
    private IEnumerable<string> Expand(string name)
    {
        yield return name;
        if (Manifest[name].ConnectionString is { } connection)
        {
            foreach (var inner in ManifestValues.References(connection))
            {
                yield return inner;
            }
        }
    }
}

public enum StateKind
{
    Redis,
    Kafka,
    ObjectStorage,
}
