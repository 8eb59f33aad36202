using MsSwift.Publish;

namespace MsSwift.Deploy.Tests;

/// <summary>deploy/k8s is what the publisher makes of the committed manifest and settings, and both overlays render.</summary>
public sealed class PublisherTests
{
    [Fact]
    public void The_committed_deploy_k8s_is_what_the_publisher_generates_from_the_committed_manifest()
    {
        var files = Publisher.Render(Rendered.Manifest, Rendered.Settings);

        var stale = Publisher.Stale(files, Path.Combine(Rendered.Root, "deploy", "k8s"));

        Assert.True(stale.Count == 0, "deploy/k8s is stale against aspire-manifest.json and deploy/publish.json; run ./build.sh publish and commit:\n" + string.Join('\n', stale));
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Each_overlay_renders_with_kubectl_and_every_object_parses_strictly_into_typed_models(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);

        // Every project and container of the manifest is in it, as a workload or (Kafka) a Strimzi cluster.
        Assert.All(Rendered.Manifest.Projects, project => rendered.Deployment(project.Name));
        Assert.Contains(rendered.Of<k8s.Models.V1StatefulSet>(), set => set.Metadata.Name == "redis");
        Assert.Contains(rendered.Of<k8s.Models.V1StatefulSet>(), set => set.Metadata.Name == "checkpoints");
        Assert.Single(rendered.Of<Publish.Crds.Kafka>());
        Assert.All(rendered.Objects, value => Assert.Equal(Rendered.Settings.Namespace, ((k8s.IKubernetesObject<k8s.Models.V1ObjectMeta>)value).Metadata.NamespaceProperty ?? (value is k8s.Models.V1Namespace ? Rendered.Settings.Namespace : null)));
    }

    [Fact]
    public void An_unknown_setting_is_refused_rather_than_ignored()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{ "Gpu": { "ResourceNmae": "nvidia.com/mig-1g.10gb" } }""");

            Assert.Throws<System.Text.Json.JsonException>(() => PublishSettings.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
