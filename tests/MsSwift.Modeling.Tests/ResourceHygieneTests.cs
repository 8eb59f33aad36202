using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class ResourceHygieneTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Memory_stays_flat_over_ten_thousand_forward_calls()
    {
        using var model = TestModels.Create();
        using var tokens = TestModels.RandomTokens(1, 8);
        RunForward(model, tokens, 10_000); // warm-up: allocator pools, JIT and GC heap reach their working size
        GC.Collect();
        var liveBefore = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var residentBefore = ResidentBytes();

        RunForward(model, tokens, 10_000);
        GC.Collect();
        var liveAfter = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var residentAfter = ResidentBytes();

        var growth = (residentAfter - residentBefore) / (1024.0 * 1024.0);
        output.WriteLine($"live tensors {liveBefore} -> {liveAfter}; resident memory {residentBefore / 1048576.0:F1} -> {residentAfter / 1048576.0:F1} MiB (+{growth:F1} MiB)");
        Assert.Equal(liveBefore, liveAfter);
        Assert.True(growth < 8, $"resident memory grew {growth:F1} MiB over 10,000 calls");
    }

    private static void RunForward(Gpt.GptModel model, Tensor tokens, int calls)
    {
        using var _ = inference_mode();
        for (var i = 0; i < calls; i++)
        {
            using var scope = NewDisposeScope();
            model.forward(tokens);
        }
    }

    private static long ResidentBytes() =>
        long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
}
