using System.Diagnostics;

namespace MsSwift.AppHost.Tests;

/// <summary>The committed aspire-manifest.json is what the AppHost generates today.</summary>
public sealed class ManifestTests
{
    [Fact]
    public async Task The_committed_manifest_matches_a_fresh_one_generated_from_the_apphost()
    {
        var projectPath = Projects.MsSwift_AppHost.ProjectPath;
        var appHostDirectory = File.Exists(projectPath) ? Path.GetDirectoryName(projectPath)! : projectPath;
        var repositoryRoot = Path.GetFullPath(Path.Combine(appHostDirectory, ".."));
        var committed = Path.Combine(repositoryRoot, "aspire-manifest.json");
        // Generated beside the committed file so that relative project paths come out the same.
        var fresh = Path.Combine(repositoryRoot, $".aspire-manifest.{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, output) = await RunAsync(appHostDirectory,
                "run", "--no-build", "--configuration", BuildConfiguration, "--no-launch-profile", "--",
                "--publisher", "manifest", "--output-path", fresh);
            Assert.True(exitCode == 0, $"manifest generation failed ({exitCode}):{Environment.NewLine}{output}");

            Assert.True(File.Exists(committed), "aspire-manifest.json is missing at the repository root; run ./build.sh manifest");
            Assert.True(
                File.ReadAllText(committed) == File.ReadAllText(fresh),
                "aspire-manifest.json is stale: the AppHost now generates a different manifest. Run ./build.sh manifest and commit the result.");
        }
        finally
        {
            File.Delete(fresh);
        }
    }

#if DEBUG
    private const string BuildConfiguration = "Debug";
#else
    private const string BuildConfiguration = "Release";
#endif

    private static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(startInfo)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
