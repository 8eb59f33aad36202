using System.Text.Json;
using MsSwift.Testing;

namespace MsSwift.AppHost.Tests;

/// <summary>The committed aspire-manifest.json is what the AppHost generates today.</summary>
public sealed class ManifestTests
{
    private static readonly string AppHostDirectory = File.Exists(Projects.MsSwift_AppHost.ProjectPath)
        ? Path.GetDirectoryName(Projects.MsSwift_AppHost.ProjectPath)!
        : Projects.MsSwift_AppHost.ProjectPath;

    private static readonly string RepositoryRoot = Path.GetFullPath(Path.Combine(AppHostDirectory, ".."));

    [Fact]
    public async Task The_committed_manifest_matches_a_fresh_one_generated_from_the_apphost()
    {
        var committed = Path.Combine(RepositoryRoot, "aspire-manifest.json");
        var fresh = await GenerateAsync([]);
        Assert.True(File.Exists(committed), "aspire-manifest.json is missing at the repository root; run ./build.sh manifest");
        Assert.True(
            File.ReadAllText(committed) == fresh,
            "aspire-manifest.json is stale: the AppHost now generates a different manifest. Run ./build.sh manifest and commit the result.");
    }

    [Fact]
    public async Task Inference_replicas_are_services_of_their_own_that_the_gateway_finds_under_the_one_name_inference()
    {
        using var manifest = JsonDocument.Parse(await GenerateAsync(["--Inference:Replicas=3"]));
        var resources = manifest.RootElement.GetProperty("resources");
        var gateway = resources.GetProperty("gateway").GetProperty("env");

        Assert.True(resources.TryGetProperty("inference", out _));
        Assert.Equal("{inference.bindings.grpc.url}", gateway.GetProperty("services__inference__grpc__0").GetString());
        foreach (var (replica, index) in new[] { ("inference-2", 1), ("inference-3", 2) })
        {
            Assert.Equal("project.v0", resources.GetProperty(replica).GetProperty("type").GetString());
            Assert.Equal($"{{{replica}.bindings.grpc.url}}", gateway.GetProperty($"services__inference__grpc__{index}").GetString());
            Assert.Equal($"{{{replica}.bindings.http.url}}", gateway.GetProperty($"services__inference__http__{index}").GetString());
        }

        Assert.False(resources.TryGetProperty("inference-4", out _));
    }

    /// <summary>The manifest the AppHost generates with <paramref name="settings"/>.</summary>
    private static async Task<string> GenerateAsync(IReadOnlyList<string> settings)
    {
        // Generated beside the committed file so that relative project paths come out the same.
        var fresh = Path.Combine(RepositoryRoot, $".aspire-manifest.{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, output) = await DotNetProcess.RunAsync(AppHostDirectory,
                ["run", "--no-build", "--configuration", DotNetProcess.BuildConfiguration, "--no-launch-profile", "--",
                 "--publisher", "manifest", "--output-path", fresh, .. settings],
                TimeSpan.FromMinutes(2));
            Assert.True(exitCode == 0, $"manifest generation failed ({exitCode}):{Environment.NewLine}{output}");
            return await File.ReadAllTextAsync(fresh);
        }
        finally
        {
            File.Delete(fresh);
        }
    }

    [Fact]
    public void The_published_redis_keeps_its_data_on_a_volume_with_an_append_only_file()
    {
        using var manifest = CommittedManifest();
        var redis = manifest.RootElement.GetProperty("resources").GetProperty("redis");

        var volume = Assert.Single(redis.GetProperty("volumes").EnumerateArray());
        Assert.Equal("/data", volume.GetProperty("target").GetString());
        Assert.Equal("msswift-redis-data", volume.GetProperty("name").GetString());
        Assert.False(volume.GetProperty("readOnly").GetBoolean());
        // The flags must reach redis-server inside the `/bin/sh -c` command, not the shell.
        var arguments = redis.GetProperty("args").EnumerateArray().Select(argument => argument.GetString()).ToList();
        Assert.Equal("-c", arguments[0]);
        Assert.Matches(@"^redis-server .* --appendonly yes --appendfsync everysec$", arguments[1]);
        Assert.Equal(2, arguments.Count);
    }

    [Fact]
    public void The_published_all_scopes_key_is_a_required_secret_the_operator_supplies_not_a_generated_one()
    {
        using var manifest = CommittedManifest();

        var key = manifest.RootElement.GetProperty("resources").GetProperty("gateway-dev-key");
        var input = key.GetProperty("inputs").GetProperty("value");

        Assert.Equal("parameter.v0", key.GetProperty("type").GetString());
        Assert.True(input.GetProperty("secret").GetBoolean());
        // A "generate" default would let a deployment tool mint an admin key nobody was given.
        Assert.False(input.TryGetProperty("default", out var fallback), $"the key has a default: {fallback}");
    }

    private static JsonDocument CommittedManifest() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot, "aspire-manifest.json")));
}
