using MsSwift.Testing.Services;

namespace MsSwift.Registry.Tests;

public sealed class RuntimeDependencyTests
{
    [Fact]
    public void The_registry_reads_checkpoints_without_carrying_libtorch()
    {
        var libraries = ServiceProcess.RuntimeLibraries("RegistryServicePath");

        Assert.Contains("MsSwift.ModelAssets", libraries);
        Assert.DoesNotContain("TorchSharp", libraries);
        Assert.DoesNotContain("libtorch-cpu-linux-x64", libraries);
    }
}
