using MsSwift.Testing;

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
            var (exitCode, output) = await DotNetProcess.RunAsync(appHostDirectory,
                ["run", "--no-build", "--configuration", DotNetProcess.BuildConfiguration, "--no-launch-profile", "--",
                 "--publisher", "manifest", "--output-path", fresh],
                TimeSpan.FromMinutes(2));
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
}
