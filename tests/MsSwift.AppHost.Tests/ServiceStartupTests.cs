using MsSwift.Testing;

namespace MsSwift.AppHost.Tests;

/// <summary>
/// Real service processes started with bad configuration stop at once, naming the key, instead
/// of starting half-configured.
/// </summary>
public sealed class ServiceStartupTests
{
    [Fact]
    public async Task Inference_without_configuration_exits_naming_every_missing_key()
    {
        var (exitCode, output) = await RunServiceAsync(new Projects.MsSwift_Inference().ProjectPath, new Dictionary<string, string>());

        Assert.NotEqual(0, exitCode);
        Assert.Contains("ConnectionStrings:kafka is missing", output);
        Assert.Contains("ConnectionStrings:redis is missing", output);
        Assert.Contains("Inference:CheckpointDirectory is missing", output);
        Assert.DoesNotContain("Now listening on", output);
    }

    [Fact]
    public async Task Training_with_an_unknown_role_exits_naming_the_key()
    {
        var (exitCode, output) = await RunServiceAsync(new Projects.MsSwift_Training().ProjectPath, new Dictionary<string, string>
        {
            ["Training__Role"] = "Boss",
            ["ConnectionStrings__redis"] = "127.0.0.1:1",
            ["ConnectionStrings__kafka"] = "127.0.0.1:1",
        });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("'Boss' at 'Training:Role'", output);
        Assert.DoesNotContain("Now listening on", output);
    }

    [Fact]
    public async Task Training_with_invalid_job_caps_exits_naming_each_key()
    {
        var (exitCode, output) = await RunServiceAsync(new Projects.MsSwift_Training().ProjectPath, new Dictionary<string, string>
        {
            ["Training__CheckpointDirectory"] = Path.GetTempPath(),
            ["Training__MaxModelParameters"] = "0",
            ["Training__MaxJobMemoryMiB"] = "-1",
            ["Training__MaxConcurrentJobs"] = "0",
            ["Training__KeepCheckpoints"] = "-1",
            ["ConnectionStrings__redis"] = "127.0.0.1:1",
            ["ConnectionStrings__kafka"] = "127.0.0.1:1",
        });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Training:MaxModelParameters must be at least 1, got 0", output);
        Assert.Contains("Training:MaxJobMemoryMiB must be at least 1, got -1", output);
        Assert.Contains("Training:MaxConcurrentJobs must be between 1 and 1000, got 0", output);
        Assert.Contains("Training:KeepCheckpoints must be 0 (keep every checkpoint) or the number of newest checkpoints to keep per job, got -1", output);
        Assert.DoesNotContain("Now listening on", output);
    }

    [Fact]
    public async Task Gateway_without_api_keys_exits_naming_the_key()
    {
        var (exitCode, output) = await RunServiceAsync(new Projects.MsSwift_Gateway().ProjectPath, new Dictionary<string, string>
        {
            ["Gateway__ApiKeys__0__Name"] = "short",
            ["Gateway__ApiKeys__0__Key"] = "too-short",
            ["Gateway__ApiKeys__0__Scopes__0"] = "root",
        });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Gateway:ApiKeys:0:Key must be at least 16 characters", output);
        Assert.Contains("Gateway:ApiKeys:0:Scopes must list some of inference, training, registry.read, admin", output);
        Assert.DoesNotContain("Now listening on", output);
    }

    [Fact]
    public async Task Gateway_with_two_keys_sharing_a_secret_or_a_slash_in_a_name_exits_naming_the_keys_but_not_the_secret()
    {
        const string secret = "shared-secret-0123456789";
        var (exitCode, output) = await RunServiceAsync(new Projects.MsSwift_Gateway().ProjectPath, new Dictionary<string, string>
        {
            ["Gateway__ApiKeys__0__Name"] = "ops",
            ["Gateway__ApiKeys__0__Key"] = secret,
            ["Gateway__ApiKeys__0__Scopes__0"] = "admin",
            ["Gateway__ApiKeys__1__Name"] = "app",
            ["Gateway__ApiKeys__1__Key"] = secret,
            ["Gateway__ApiKeys__1__Scopes__0"] = "inference",
            ["Gateway__ApiKeys__2__Name"] = "team/app",
            ["Gateway__ApiKeys__2__Key"] = "another-secret-0123456789",
            ["Gateway__ApiKeys__2__Scopes__0"] = "inference",
        });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Gateway:ApiKeys:0 ('ops') and Gateway:ApiKeys:1 ('app') have the same Key", output);
        // Async request ids are scoped as {name}/{id}: 'team/app' with id 'x' would be 'team' with id 'app/x'.
        Assert.Contains("Gateway:ApiKeys:2:Name must not contain '/'", output);
        Assert.DoesNotContain(secret, output);
        Assert.DoesNotContain("Now listening on", output);
    }

    [Fact]
    public async Task Registry_without_configuration_exits_naming_every_missing_key()
    {
        var (exitCode, output) = await RunServiceAsync(new Projects.MsSwift_Registry().ProjectPath, new Dictionary<string, string>());

        Assert.NotEqual(0, exitCode);
        Assert.Contains("ConnectionStrings:kafka is missing", output);
        Assert.Contains("ConnectionStrings:redis is missing", output);
        Assert.Contains("Registry:CheckpointDirectory is missing", output);
        Assert.DoesNotContain("Now listening on", output);
    }

    private static Task<(int ExitCode, string Output)> RunServiceAsync(string projectPath, Dictionary<string, string> settings)
    {
        var projectDirectory = File.Exists(projectPath) ? Path.GetDirectoryName(projectPath)! : projectPath;
        var name = Path.GetFileName(Directory.GetFiles(projectDirectory, "*.csproj").Single());
        var assembly = Path.Combine(projectDirectory, "bin", DotNetProcess.BuildConfiguration, "net10.0", Path.ChangeExtension(name, ".dll"));
        // Whatever the test runner's environment holds must not configure the service.
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(key => key.StartsWith("ConnectionStrings", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(key => key, _ => (string?)null);
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return DotNetProcess.RunAsync(projectDirectory, ["exec", assembly, "--urls", "http://127.0.0.1:0"], TimeSpan.FromSeconds(60), environment);
    }
}
