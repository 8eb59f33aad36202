namespace MsSwift.Deploy.Tests;

/// <summary>The gpu overlay gives GPUs to the services that run TorchSharp, and to nothing else.</summary>
public sealed class GpuOverlayTests
{
    [Fact]
    public async Task The_gpu_overlay_adds_gpu_limits_node_selectors_and_tolerations_to_exactly_the_projects_that_reference_libtorch()
    {
        var gpu = await Rendered.OverlayAsync("gpu");
        var dev = await Rendered.OverlayAsync("dev");
        var resource = Rendered.Settings.Gpu.ResourceName;

        // Which services are model services, told by their restored packages, not by the settings.
        var torchProjects = new HashSet<string>();
        foreach (var (name, project) in Rendered.Manifest.Projects)
        {
            if ((await ProjectEvaluation.RestoredLibrariesAsync(project.Path!)).Any(library => library.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase)))
            {
                torchProjects.Add(name);
            }
        }

        var withGpu = gpu.PodTemplates.Where(workload => workload.Template.Spec.Containers.Any(container => container.Resources?.Limits?.ContainsKey(resource) == true))
            .Select(workload => workload.Name).ToHashSet();

        Assert.Equal(["inference", "training", "worker"], torchProjects.Order());
        Assert.Equal(torchProjects, withGpu);
        Assert.All(gpu.PodTemplates.Where(workload => withGpu.Contains(workload.Name)), workload =>
        {
            Assert.Equal(Rendered.Settings.Gpu.NodeSelector, workload.Template.Spec.NodeSelector);
            Assert.Contains(workload.Template.Spec.Tolerations, toleration => toleration.Key == "nvidia.com/gpu" && toleration.Effect == "NoSchedule");
        });
        Assert.All(gpu.PodTemplates.Where(workload => !withGpu.Contains(workload.Name)), workload =>
        {
            Assert.Null(workload.Template.Spec.NodeSelector);
            Assert.Null(workload.Template.Spec.Tolerations);
        });
        // The dev overlay asks for no GPU anywhere.
        Assert.DoesNotContain(dev.PodTemplates, workload => workload.Template.Spec.Containers.Any(container => container.Resources?.Limits?.Keys.Any(key => key.Contains("nvidia", StringComparison.Ordinal)) == true));
    }

    [Fact]
    public void A_mig_slice_is_a_setting_not_a_code_change()
    {
        var settings = new Publish.PublishSettings { Gpu = new Publish.GpuSettings { ResourceName = "nvidia.com/mig-1g.10gb" } };

        var files = Publish.Publisher.Render(Rendered.Manifest, settings);

        Assert.Contains("nvidia.com/mig-1g.10gb: 1", files["overlays/gpu/gpu-inference.yaml"], StringComparison.Ordinal);
        Assert.DoesNotContain(files, file => file.Value.Contains("nvidia.com/gpu: ", StringComparison.Ordinal));
    }
}
