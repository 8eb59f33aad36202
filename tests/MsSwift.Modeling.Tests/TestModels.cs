using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

/// <summary>Small seeded models and inputs shared by the model-core tests.</summary>
internal static class TestModels
{
    public static readonly GptConfig Tiny = new() { Layers = 2, Heads = 4, Width = 64, ContextLength = 64, VocabSize = 256 };

    public static GptModel Create(GptConfig? config = null, long seed = 7)
    {
        manual_seed(seed);
        var model = new GptModel(config ?? Tiny);
        model.eval();
        return model;
    }

    /// <summary>Random token ids [batch, steps] from a seeded generator.</summary>
    public static Tensor RandomTokens(long batch, long steps, long seed = 11, int vocab = 256)
    {
        using var generator = new Generator((ulong)seed);
        return randint(vocab, [batch, steps], generator: generator);
    }

    public static double MaxAbsDiff(Tensor a, Tensor b) => (a.to(float64) - b.to(float64)).abs().max().item<double>();
}
