using MsSwift.Testing.Services;

namespace MsSwift.Data.Tests;

public sealed class RuntimeDependencyTests
{
    [Fact]
    public void The_data_service_tokenizes_and_stores_without_carrying_libtorch()
    {
        var libraries = ServiceProcess.RuntimeLibraries("DataServicePath");

        Assert.Contains("MsSwift.ModelAssets", libraries);
        Assert.DoesNotContain("TorchSharp", libraries);
        Assert.DoesNotContain("libtorch-cpu-linux-x64", libraries);
    }
}
