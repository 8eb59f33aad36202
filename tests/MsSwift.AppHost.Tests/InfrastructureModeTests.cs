using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace MsSwift.AppHost.Tests;

/// <summary>The app model in each infrastructure mode, built without starting anything.</summary>
public sealed class InfrastructureModeTests
{
    [Fact]
    public async Task Local_mode_runs_redis_and_the_kafka_dev_broker_as_processes()
    {
        var resources = await ModelFor("local");

        var redis = Assert.IsAssignableFrom<ExecutableResource>(resources["redis"]);
        var kafka = Assert.IsAssignableFrom<ExecutableResource>(resources["kafka"]);
        Assert.Equal("redis-server", redis.Command);
        Assert.Equal("dotnet", kafka.Command);
        Assert.IsAssignableFrom<IResourceWithConnectionString>(redis);
        Assert.IsAssignableFrom<IResourceWithConnectionString>(kafka);
    }

    [Fact]
    public async Task Containers_mode_uses_redis_and_kafka_images()
    {
        var resources = await ModelFor("containers");

        Assert.IsAssignableFrom<ContainerResource>(resources["redis"]);
        var kafka = Assert.IsAssignableFrom<ContainerResource>(resources["kafka"]);
        Assert.True(kafka.TryGetLastAnnotation<ContainerImageAnnotation>(out var image));
        Assert.Equal("apache/kafka", image.Image);
    }

    [Fact]
    public async Task External_mode_takes_connection_strings_from_configuration()
    {
        var resources = await ModelFor("external");

        foreach (var name in new[] { "redis", "kafka" })
        {
            // A parameter read from ConnectionStrings:<name>: nothing to start, nothing to wait for.
            Assert.IsAssignableFrom<ParameterResource>(resources[name]);
            Assert.IsAssignableFrom<IResourceWithConnectionString>(resources[name]);
        }
    }

    [Fact]
    public async Task Every_design_resource_exists_and_services_wait_for_their_dependencies()
    {
        var resources = await ModelFor("local");

        foreach (var name in new[] { "gateway", "inference", "training", "worker", "data", "registry", "redis", "kafka" })
        {
            Assert.True(resources.ContainsKey(name), $"resource '{name}' is missing");
        }

        Assert.Equal(["redis", "kafka", "registry"], WaitsFor(resources["inference"]));
        // The gateway routes to every service, so it needs each one's address, and waits for each but
        // inference: inference is ready only with a production model, and a cluster without one must
        // still take uploads and training through the gateway.
        Assert.Equal(["kafka", "training", "data", "registry"], WaitsFor(resources["gateway"]));
        Assert.Contains(resources["gateway"].Annotations.OfType<ResourceRelationshipAnnotation>(),
            relationship => relationship.Resource.Name == "inference" && relationship.Type == "Reference");
        Assert.Equal(["redis", "data", "training"], WaitsFor(resources["worker"]));
    }

    [Fact]
    public async Task An_unknown_mode_is_refused_with_the_key_and_the_allowed_values()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ModelFor("kubernetes"));

        var message = error.InnerException?.Message ?? error.Message;
        Assert.Contains("Infrastructure:Mode must be one of auto, local, containers, external; got 'kubernetes'", message);
    }

    private static async Task<Dictionary<string, IResource>> ModelFor(string mode)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MsSwift_AppHost>(
            [$"Infrastructure:Mode={mode}", "Cli:ConnectionFile="], timeout.Token);
        return builder.Resources.ToDictionary(resource => resource.Name);
    }

    private static List<string> WaitsFor(IResource resource) =>
        resource.Annotations.OfType<WaitAnnotation>().Select(wait => wait.Resource.Name).ToList();
}
