using k8s;
using k8s.Models;
using MsSwift.Publish;
using MsSwift.Publish.Crds;
using MsSwift.Publish.Manifest;
using MsSwift.Testing;

namespace MsSwift.Deploy.Tests;

/// <summary>
/// The committed <c>deploy/k8s</c> overlays as <c>kubectl kustomize</c> renders them, loaded
/// strictly (an unknown field fails) into the Kubernetes client's typed models and the
/// publisher's custom-resource models. Rendered once per test run.
/// </summary>
public sealed class Rendered
{
    public static readonly string Root = ProcessRunner.RepositoryRoot;

    private static readonly Dictionary<string, Lazy<Task<Rendered>>> Overlays = new(StringComparer.Ordinal)
    {
        ["dev"] = new(() => RenderAsync("dev")),
        ["gpu"] = new(() => RenderAsync("gpu")),
    };

    private Rendered(string overlay, IReadOnlyList<object> objects)
    {
        Overlay = overlay;
        Objects = objects;
    }

    public string Overlay { get; }

    public IReadOnlyList<object> Objects { get; }

    public static AspireManifest Manifest { get; } = AspireManifest.Load(Path.Combine(Root, "aspire-manifest.json"));

    public static PublishSettings Settings { get; } = PublishSettings.Load(Path.Combine(Root, "deploy", "publish.json"));

    public IEnumerable<T> Of<T>() => Objects.OfType<T>();

    public IEnumerable<V1Deployment> Deployments => Of<V1Deployment>();

    /// <summary>Every pod template with the name of its workload: Deployments and StatefulSets.</summary>
    public IEnumerable<(string Name, V1PodTemplateSpec Template)> PodTemplates =>
        Deployments.Select(deployment => (deployment.Metadata.Name, deployment.Spec.Template))
            .Concat(Of<V1StatefulSet>().Select(set => (set.Metadata.Name, set.Spec.Template)));

    public V1Deployment Deployment(string name) => Assert.Single(Deployments, deployment => deployment.Metadata.Name == name);

    public static Task<Rendered> OverlayAsync(string overlay) => Overlays[overlay].Value;

    private static async Task<Rendered> RenderAsync(string overlay)
    {
        var directory = Path.Combine(Root, "deploy", "k8s", "overlays", overlay);
        var result = await ProcessRunner.RunAsync("kubectl", Root, ["kustomize", directory], TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {directory} failed ({result.ExitCode}): {result.StandardError}");
        return new Rendered(overlay, KubernetesYaml.LoadAllFromString(result.StandardOutput, CustomResources.TypeMap, strict: true));
    }
}
