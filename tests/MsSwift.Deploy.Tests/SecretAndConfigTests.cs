using k8s.Models;

namespace MsSwift.Deploy.Tests;

/// <summary>Every Secret and ConfigMap a workload reads is in the overlay, with the key it reads.</summary>
public sealed class SecretAndConfigTests
{
    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Every_secret_and_config_map_reference_is_satisfied(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);
        var secrets = rendered.Of<V1Secret>().ToDictionary(secret => secret.Metadata.Name, secret => (secret.Data?.Keys ?? []).Concat(secret.StringData?.Keys ?? []).ToHashSet());
        var configMaps = rendered.Of<V1ConfigMap>().ToDictionary(map => map.Metadata.Name, map => (map.Data?.Keys ?? []).ToHashSet());
        var references = 0;

        foreach (var (name, template) in rendered.PodTemplates)
        {
            foreach (var container in template.Spec.Containers)
            {
                foreach (var variable in container.Env ?? [])
                {
                    if (variable.ValueFrom?.SecretKeyRef is { } secret)
                    {
                        references++;
                        Assert.True(secrets.TryGetValue(secret.Name, out var keys) && keys.Contains(secret.Key), $"{name}: {variable.Name} reads Secret {secret.Name} key {secret.Key}, which {overlay} lacks");
                    }

                    if (variable.ValueFrom?.ConfigMapKeyRef is { } config)
                    {
                        Assert.True(configMaps.TryGetValue(config.Name, out var keys) && keys.Contains(config.Key), $"{name}: {variable.Name} reads ConfigMap {config.Name} key {config.Key}");
                    }
                }

                foreach (var source in container.EnvFrom ?? [])
                {
                    Assert.True(source.ConfigMapRef is null || configMaps.ContainsKey(source.ConfigMapRef.Name), $"{name}: ConfigMap {source.ConfigMapRef?.Name} is missing");
                    Assert.True(source.SecretRef is null || secrets.ContainsKey(source.SecretRef.Name), $"{name}: Secret {source.SecretRef?.Name} is missing");
                }
            }
        }

        Assert.True(references > 10, $"only {references} secret references: connection strings and keys should come from the Secret");
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Connection_strings_passwords_and_api_keys_come_from_the_secret_never_from_a_config_map(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);

        Assert.All(rendered.Of<V1ConfigMap>(), map => Assert.DoesNotContain(map.Data?.Keys ?? [], key =>
            key.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || key.Contains("PASSWORD", StringComparison.Ordinal)
            || key.EndsWith("__Key", StringComparison.Ordinal) || key.EndsWith("SecretKey", StringComparison.Ordinal) || key.EndsWith("AccessKey", StringComparison.Ordinal)));
        Assert.All(rendered.PodTemplates, workload => Assert.All(workload.Template.Spec.Containers.SelectMany(container => container.Env ?? []),
            variable => Assert.False(variable.Value is not null && variable.Name.StartsWith("ConnectionStrings__", StringComparison.Ordinal), $"{workload.Name}: {variable.Name} is inline")));
    }

    [Fact]
    public async Task The_gpu_overlay_ships_placeholders_the_gateway_refuses_as_an_api_key()
    {
        var rendered = await Rendered.OverlayAsync("gpu");
        var secret = Assert.Single(rendered.Of<V1Secret>());
        var key = System.Text.Encoding.UTF8.GetString(secret.Data["gateway-dev-key"]);

        // The gateway refuses keys under 16 characters, so an unedited overlay cannot serve with a known key.
        Assert.Equal(Publish.Kubernetes.Overlays.Placeholder, key);
        Assert.True(key.Length < 16);
    }
}
