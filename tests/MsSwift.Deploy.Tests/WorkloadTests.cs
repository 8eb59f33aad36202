using k8s.Models;

namespace MsSwift.Deploy.Tests;

/// <summary>Every Deployment is probed on the health endpoints, sized, and runs as a non-root user on a read-only root.</summary>
public sealed class WorkloadTests
{
    private static readonly string[] SizedResources = ["cpu", "memory"];

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Every_deployment_has_startup_liveness_and_readiness_probes_on_the_health_endpoints(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);

        Assert.All(rendered.Deployments, deployment =>
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            Assert.Equal("/alive", container.StartupProbe?.HttpGet?.Path);
            Assert.Equal("/alive", container.LivenessProbe?.HttpGet?.Path);
            Assert.Equal("/healthz", container.ReadinessProbe?.HttpGet?.Path);
            // The probes' port is one the container declares.
            Assert.Contains(container.Ports, port => port.Name == container.ReadinessProbe!.HttpGet.Port.Value);
        });
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Every_workload_requests_and_limits_cpu_and_memory_and_runs_non_root_on_a_read_only_root(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);

        Assert.All(rendered.PodTemplates, workload =>
        {
            var pod = workload.Template.Spec;
            Assert.True(pod.SecurityContext?.RunAsNonRoot == true, $"{workload.Name}: runAsNonRoot");
            Assert.True(pod.SecurityContext?.RunAsUser > 0, $"{workload.Name}: a non-root UID");
            Assert.Equal("RuntimeDefault", pod.SecurityContext?.SeccompProfile?.Type);
            Assert.All(pod.Containers, container =>
            {
                foreach (var resource in SizedResources)
                {
                    Assert.True(container.Resources?.Requests?.ContainsKey(resource) == true, $"{workload.Name}: requests {resource}");
                    Assert.True(container.Resources?.Limits?.ContainsKey(resource) == true, $"{workload.Name}: limits {resource}");
                }

                Assert.False(container.SecurityContext?.AllowPrivilegeEscalation ?? true, $"{workload.Name}: privilege escalation");
                Assert.True(container.SecurityContext?.ReadOnlyRootFilesystem == true, $"{workload.Name}: read-only root");
                Assert.Equal(["ALL"], container.SecurityContext?.Capabilities?.Drop);
                // A read-only root still needs a writable /tmp.
                Assert.Contains(container.VolumeMounts, mount => mount.MountPath == "/tmp");
            });
        });
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task The_gateway_balances_inference_pods_itself_through_a_headless_service_and_every_service_drains_on_shutdown(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);

        var inference = Assert.Single(rendered.Of<V1Service>(), service => service.Metadata.Name == "inference");
        var gatewaySettings = Assert.Single(rendered.Of<V1ConfigMap>(), map => map.Metadata.Name == "gateway-settings").Data;
        Assert.Equal("None", inference.Spec.ClusterIP);
        Assert.Equal("inference", gatewaySettings["Gateway__ReplicaHostNames__0"]);
        Assert.StartsWith("http://inference:", gatewaySettings["services__inference__grpc__0"], StringComparison.Ordinal);
        Assert.All(rendered.Of<V1Service>().Where(service => service.Metadata.Name != "inference"), service => Assert.NotEqual("None", service.Spec.ClusterIP));
        Assert.All(rendered.Of<V1ConfigMap>().Where(map => map.Metadata.Name.EndsWith("-settings", StringComparison.Ordinal)), map =>
        {
            Assert.Equal("5", map.Data["Shutdown__DrainSeconds"]);
            // The drain and the requests in flight fit in the grace period Kubernetes gives before SIGKILL.
            var project = map.Metadata.Name[..^"-settings".Length];
            Assert.True(rendered.Deployment(project).Spec.Template.Spec.TerminationGracePeriodSeconds >= 30, project);
        });
    }

    [Fact]
    public async Task Model_services_roll_out_without_ever_having_fewer_ready_replicas_and_every_deployment_has_a_disruption_budget()
    {
        var rendered = await Rendered.OverlayAsync("gpu");

        Assert.All(Rendered.Settings.ModelServices, model =>
        {
            var strategy = rendered.Deployment(model).Spec.Strategy;
            Assert.Equal("RollingUpdate", strategy.Type);
            Assert.Equal("0", strategy.RollingUpdate.MaxUnavailable.Value);
        });
        Assert.All(rendered.Deployments, deployment => Assert.Single(rendered.Of<V1PodDisruptionBudget>(),
            budget => budget.Spec.Selector.MatchLabels.All(label => deployment.Spec.Template.Metadata.Labels.TryGetValue(label.Key, out var value) && value == label.Value)));
        Assert.NotEmpty(rendered.Deployment("inference").Spec.Template.Spec.TopologySpreadConstraints);
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Images_are_the_manifest_s_containers_and_the_images_its_projects_publish(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);

        foreach (var (name, resource) in Rendered.Manifest.Resources.Where(entry => entry.Value.Type == "container.v0" && entry.Key != "kafka"))
        {
            var set = Assert.Single(rendered.Of<V1StatefulSet>(), set => set.Metadata.Name == name);
            Assert.Equal(resource.Image, Assert.Single(set.Spec.Template.Spec.Containers).Image);
        }

        foreach (var (name, resource) in Rendered.Manifest.Projects)
        {
            var image = Assert.Single(rendered.Deployment(name).Spec.Template.Spec.Containers).Image;
            var repository = await ImageRepositoryAsync(resource.Path!);
            var cuda = overlay == "gpu" && Rendered.Settings.ModelServices.Contains(name);
            Assert.Equal($"{Rendered.Settings.ImageRegistry}/{repository}:{Rendered.Settings.ImageTag}{(cuda ? Rendered.Settings.CudaTagSuffix : "")}", image);
        }
    }

    /// <summary>The repository the project's MSBuild container settings publish its image to.</summary>
    private static async Task<string> ImageRepositoryAsync(string projectPath)
    {
        var evaluated = await ProjectEvaluation.EvaluateAsync(projectPath, ["ContainerRepository"]);
        return evaluated.Property("ContainerRepository");
    }
}
