namespace MsSwift.Deploy.Tests;

/// <summary>
/// The images `./build.sh images` publishes, as the SDK computes them: its ComputeContainerConfig
/// target runs offline (only pulling the base image and pushing need a network), so these tests
/// see the repository, tag, user, ports, base image and labels an image would get.
/// </summary>
public sealed class ImageBuildTests
{
    private const string Inference = "Services/Inference/MsSwift.Inference.csproj";
    private const string Training = "Services/Training/MsSwift.Training.csproj";
    private const string Data = "Services/Data/MsSwift.Data.csproj";
    private const string Registry = "Services/Registry/MsSwift.Registry.csproj";
    private const string Gateway = "Gateway/MsSwift.Gateway.csproj";
    private const string Modeling = "Services/Modeling/MsSwift.Modeling.csproj";

    private const string ModelBaseImage = "mcr.microsoft.com/dotnet/aspnet:10.0-noble";
    private const string ChiseledBaseImage = "mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled";
    private const string CpuLibTorch = "libtorch-cpu-linux-x64";
    private const string CudaLibTorch = "libtorch-cuda-12.8-linux-x64";

    private static readonly Dictionary<string, string> Cuda = new() { ["TorchBackend"] = "cuda" };

    public static TheoryData<string, string, string> Images => new()
    {
        { Inference, "msswift-inference", ModelBaseImage },
        { Training, "msswift-training", ModelBaseImage },
        // Data turns InvariantGlobalization off (NFC needs ICU): the chiseled variant with ICU.
        { Data, "msswift-data", $"{ChiseledBaseImage}-extra" },
        { Registry, "msswift-registry", ChiseledBaseImage },
        { Gateway, "msswift-gateway", ChiseledBaseImage },
    };

    public static TheoryData<string> ModelServices => [Inference, Training];

    public static TheoryData<string> ServicesWithoutTorch => [Data, Registry, Gateway];

    [Theory]
    [MemberData(nameof(Images))]
    public async Task Each_service_is_a_non_root_image_named_msswift_with_the_three_ports_its_base_image_and_the_version_tag(
        string project, string repository, string baseImage)
    {
        var image = await ContainerConfigAsync(project);

        Assert.Equal(repository, image.Property("ContainerRepository"));
        Assert.Equal("", image.Property("ContainerRegistry"));
        Assert.Equal(baseImage, image.Property("ContainerBaseImage"));
        Assert.Equal("1654", image.Property("ContainerUser"));
        var version = image.Property("MsSwiftVersion");
        Assert.Equal([version], Tags(image));
        Assert.Equal(["8080/tcp", "8081/tcp", "9090/tcp"], image.Items("ContainerPort").Select(port => $"{port.Identity}/{port["Type"]}"));
        var labels = Labels(image);
        Assert.Equal(repository, labels["org.opencontainers.image.title"]);
        Assert.Equal(version, labels["org.opencontainers.image.version"]);
        Assert.False(labels.ContainsKey("org.opencontainers.image.source"), "no source label unless the build is told where the source lives");
    }

    [Fact]
    public async Task A_registry_namespace_and_source_url_given_at_publish_reach_the_image_name_and_labels()
    {
        var image = await ContainerConfigAsync(Gateway, new()
        {
            ["ContainerRegistry"] = "ghcr.io",
            ["MsSwiftImageNamespace"] = "acme",
            ["RepositoryUrl"] = "https://example.test/acme/msswift",
            ["MsSwiftVersion"] = "2.3.4",
        });

        Assert.Equal("ghcr.io", image.Property("ContainerRegistry"));
        Assert.Equal("acme/msswift-gateway", image.Property("ContainerRepository"));
        Assert.Equal(["2.3.4"], Tags(image));
        var labels = Labels(image);
        Assert.Equal("msswift-gateway", labels["org.opencontainers.image.title"]);
        Assert.Equal("2.3.4", labels["org.opencontainers.image.version"]);
        Assert.Equal("https://example.test/acme/msswift", labels["org.opencontainers.image.source"]);
    }

    [Fact]
    public async Task Modeling_links_cpu_libtorch_by_default_and_cuda_libtorch_of_the_same_version_with_TorchBackend_cuda()
    {
        var cpu = await ProjectEvaluation.EvaluateAsync(Modeling, ["TorchBackend"], ["PackageReference", "PackageVersion"]);
        var cuda = await ProjectEvaluation.EvaluateAsync(Modeling, ["TorchBackend"], ["PackageReference", "PackageVersion"], Cuda);

        Assert.Equal("cpu", cpu.Property("TorchBackend"));
        Assert.Contains("TorchSharp", cpu.PackageReferences);
        Assert.Contains(CpuLibTorch, cpu.PackageReferences);
        Assert.DoesNotContain(CudaLibTorch, cpu.PackageReferences);

        Assert.Contains("TorchSharp", cuda.PackageReferences);
        Assert.Contains(CudaLibTorch, cuda.PackageReferences);
        Assert.DoesNotContain(CpuLibTorch, cuda.PackageReferences);

        var cpuVersion = Version(cpu, CpuLibTorch);
        Assert.False(string.IsNullOrEmpty(cpuVersion), $"{CpuLibTorch} has no central PackageVersion");
        Assert.Equal(cpuVersion, Version(cuda, CudaLibTorch));
    }

    [Theory]
    [MemberData(nameof(ModelServices))]
    public async Task Model_services_reference_Modeling_and_their_cuda_build_is_tagged_cuda_and_asks_for_the_gpu_driver(string project)
    {
        var version = new Dictionary<string, string> { ["MsSwiftVersion"] = "2.3.4" };
        var cpu = await ContainerConfigAsync(project, version);
        var cuda = await ContainerConfigAsync(project, new(version) { ["TorchBackend"] = "cuda" });

        Assert.Contains(cpu.Items("ProjectReference"), reference => reference.Identity.EndsWith("/MsSwift.Modeling.csproj", StringComparison.Ordinal));
        Assert.Equal(["2.3.4"], Tags(cpu));
        Assert.Equal(["2.3.4-cuda"], Tags(cuda));
        Assert.Equal(ModelBaseImage, cuda.Property("ContainerBaseImage"));
        Assert.Equal("msswift-" + Path.GetFileNameWithoutExtension(project)["MsSwift.".Length..].ToLowerInvariant(), cuda.Property("ContainerRepository"));
        Assert.DoesNotContain(cpu.Items("ContainerEnvironmentVariable"), variable => variable.Identity == "NVIDIA_DRIVER_CAPABILITIES");
        Assert.Contains(cuda.Items("ContainerEnvironmentVariable"), variable => variable.Identity == "NVIDIA_DRIVER_CAPABILITIES" && variable["Value"] == "compute,utility");
    }

    [Theory]
    [MemberData(nameof(ServicesWithoutTorch))]
    public async Task Data_registry_and_gateway_build_the_same_image_whatever_the_TorchBackend(string project)
    {
        var cpu = await ContainerConfigAsync(project);
        var cuda = await ContainerConfigAsync(project, Cuda);

        Assert.DoesNotContain(cpu.Items("ProjectReference"), reference => reference.Identity.EndsWith("/MsSwift.Modeling.csproj", StringComparison.Ordinal));
        Assert.Equal(Tags(cpu), Tags(cuda));
        Assert.Equal(cpu.Property("ContainerBaseImage"), cuda.Property("ContainerBaseImage"));
        Assert.Empty(cuda.Items("ContainerEnvironmentVariable"));
    }

    [Theory]
    [MemberData(nameof(ServicesWithoutTorch))]
    public async Task Data_registry_and_gateway_restore_neither_libtorch_nor_TorchSharp(string project)
    {
        var libraries = await ProjectEvaluation.RestoredLibrariesAsync(project);

        Assert.Contains("MsSwift.ServiceDefaults", libraries);
        Assert.DoesNotContain(libraries, IsTorch);
        Assert.DoesNotContain("MsSwift.Modeling", libraries);
    }

    [Fact]
    public async Task Inference_restores_TorchSharp_and_cpu_libtorch_so_the_check_for_the_others_would_see_them()
    {
        var libraries = await ProjectEvaluation.RestoredLibrariesAsync(Inference);

        Assert.Contains("TorchSharp", libraries);
        Assert.Contains(CpuLibTorch, libraries);
        Assert.Contains(libraries, IsTorch);
    }

    [Theory]
    [InlineData(Modeling)]
    [InlineData(Inference)]
    public async Task An_unknown_TorchBackend_stops_restore_with_a_message_naming_the_allowed_values(string project)
    {
        // Restore collects package references first; the check runs before that.
        var (exitCode, output) = await ProjectEvaluation.RunTargetsAsync(project, "CollectPackageReferences", new Dictionary<string, string> { ["TorchBackend"] = "bogus" });
        var (cudaExitCode, cudaOutput) = await ProjectEvaluation.RunTargetsAsync(project, "CollectPackageReferences", Cuda);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MSSWIFT001: TorchBackend is 'bogus'; it must be 'cpu' (the default) or 'cuda'.", output);
        Assert.True(cudaExitCode == 0, cudaOutput);
    }

    [Fact]
    public async Task A_model_service_missing_from_the_list_in_Containers_targets_fails_the_image_build()
    {
        var (exitCode, output) = await ProjectEvaluation.RunTargetsAsync(Inference, "ComputeContainerConfig", new Dictionary<string, string> { ["MsSwiftModelImage"] = "false" });

        Assert.NotEqual(0, exitCode);
        Assert.Contains("error MSSWIFT002: MsSwift.Inference: MsSwiftModelImage is false but its reference to MsSwift.Modeling says true", output);
    }

    private static Task<ProjectEvaluation> ContainerConfigAsync(string project, Dictionary<string, string>? globalProperties = null) =>
        ProjectEvaluation.EvaluateAsync(
            project,
            ["ContainerRegistry", "ContainerRepository", "ContainerBaseImage", "ContainerUser", "MsSwiftVersion"],
            ["ContainerImageTags", "ContainerPort", "ContainerLabel", "ContainerEnvironmentVariable", "ProjectReference"],
            globalProperties,
            targets: "ComputeContainerConfig");

    private static List<string> Tags(ProjectEvaluation image) => image.Items("ContainerImageTags").Select(tag => tag.Identity).ToList();

    // ToDictionary also fails the test on a label set twice.
    private static Dictionary<string, string?> Labels(ProjectEvaluation image) =>
        image.Items("ContainerLabel").ToDictionary(label => label.Identity, label => label["Value"]);

    private static string? Version(ProjectEvaluation evaluation, string package) =>
        evaluation.Items("PackageVersion").SingleOrDefault(item => item.Identity == package)?["Version"];

    private static bool IsTorch(string library) =>
        library.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || library.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase);
}
