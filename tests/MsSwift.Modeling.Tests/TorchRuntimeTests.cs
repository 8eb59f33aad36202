using Microsoft.Extensions.Configuration;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

/// <summary>
/// libtorch loads and computes correctly in this process. On Debian 12 this fails with
/// "GLIBCXX_3.4.32 not found" unless the setup script upgraded libstdc++.
/// </summary>
[Collection(TorchSerialGroup.Name)]
public sealed class TorchRuntimeTests
{
    private static IConfiguration Settings(string threads) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [TorchRuntime.IntraOpThreadsKey] = threads })
            .Build();

    [Fact]
    public void Libtorch_loads_and_multiplies_matrices_correctly()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var b = tensor(new float[] { 7, 8, 9, 10, 11, 12 }, [3, 2]);

        var product = matmul(a, b).data<float>().ToArray();

        Assert.StartsWith("2.10", TorchRuntime.LibTorchVersion);
        Assert.Equal([58f, 64f, 139f, 154f], product);
    }

    [Fact]
    public void Configure_sets_the_intra_op_thread_count_and_zero_keeps_it()
    {
        var original = TorchRuntime.IntraOpThreads;
        try
        {
            TorchRuntime.Configure(1);
            var afterOne = TorchRuntime.IntraOpThreads;
            TorchRuntime.Configure(0);

            Assert.Equal(1, afterOne);
            Assert.Equal(1, TorchRuntime.IntraOpThreads);
        }
        finally
        {
            TorchRuntime.Configure(original);
        }
    }

    [Fact]
    public void The_thread_count_comes_from_configuration_and_bad_values_name_the_key()
    {
        var original = TorchRuntime.IntraOpThreads;
        try
        {
            TorchRuntime.Configure(Settings("1"));
            var configured = TorchRuntime.IntraOpThreads;
            var error = Assert.Throws<ArgumentException>(() => TorchRuntime.Configure(Settings("many")));

            Assert.Equal(1, configured);
            Assert.Contains("Torch:IntraOpThreads must be 0 (libtorch's default) or a positive thread count, got 'many'", error.Message);
        }
        finally
        {
            TorchRuntime.Configure(original);
        }
    }

    [Fact]
    public void A_negative_thread_count_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.Configure(-1));
    }
}

/// <summary>Native tensor code in one test process runs one test at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchSerialGroup
{
    public const string Name = "TorchSharp";
}
