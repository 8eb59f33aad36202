using System.Diagnostics;
using MsSwift.Modeling;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Quantization;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Bench;

/// <summary>
/// int8 against fp32 serving, side by side in one process: greedy KV-cached generation tokens/s at
/// batch 1 and 16, the weight bytes each loaded model holds, and the logit error, at the product's
/// default model shape and at GPT-2 small's (124M parameters, random weights). At batch 1 a decode
/// step reads every weight once, so tokens/s x weight bytes is compared with the machine's memory
/// bandwidth, measured here by a large tensor copy.
/// </summary>
internal static class Int8Benchmark
{
    private static readonly GptConfig Gpt2Small = new() { Layers = 12, Heads = 12, Width = 768, ContextLength = 1024, VocabSize = 50257 };

    private const int PromptTokens = 16;

    public static int Run(int threads, int repeats)
    {
        TorchRuntime.Configure(threads);
        var bandwidth = CopyBandwidthBytesPerSecond();
        Console.WriteLine($"libtorch {TorchRuntime.LibTorchVersion}, {TorchRuntime.IntraOpThreads} threads; memory bandwidth (256 MiB tensor copy, read + write): {bandwidth / 1e9:F1} GB/s");
        Console.WriteLine();
        Console.WriteLine("| shape | precision | weight bytes | vs fp32 | batch 1 tokens/s | batch 1 weight GB/s (share of copy bandwidth) | batch 16 tokens/s | logits: relative RMS error, argmax agreement |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        Compare("default (4 x 128, vocab 256)", new GptConfig(), newTokens: 64, repeats, bandwidth);
        Compare("GPT-2 small (12 x 768, vocab 50257)", Gpt2Small, newTokens: 24, Math.Max(1, repeats / 3), bandwidth);
        return 0;
    }

    private static void Compare(string shape, GptConfig config, int newTokens, int repeats, double bandwidth)
    {
        manual_seed(0);
        using var full = new GptModel(config);
        full.eval();
        using var int8 = Int8Quantizer.Quantize(full);
        var (relativeRms, agreement) = LogitError(full, int8, config.VocabSize);
        var fullBytes = full.WeightBytes();
        foreach (var (name, model) in new[] { ("fp32", full), ("int8", int8) })
        {
            var bytes = model.WeightBytes();
            var single = TokensPerSecond(model, 1, newTokens, repeats);
            var batched = TokensPerSecond(model, 16, newTokens, Math.Max(1, repeats / 2));
            var weightRate = single * bytes;
            var error = name == "int8" ? $"{relativeRms:E2}, {agreement:P1}" : "reference";
            Console.WriteLine($"| {shape} | {name} | {bytes / 1e6:F2} MB | {(double)bytes / fullBytes:F3}x | {single:F0} | {weightRate / 1e9:F1} GB/s ({weightRate / bandwidth:P0}) | {batched:F0} | {error} |");
        }
    }

    /// <summary>Bytes moved per second copying a 256 MiB tensor (read once, written once), the best of five.</summary>
    private static double CopyBandwidthBytesPerSecond()
    {
        using var source = ones([64L << 20], dtype: float32);
        using var target = empty_like(source);
        var best = double.MaxValue;
        for (var i = 0; i < 6; i++)
        {
            var watch = Stopwatch.StartNew();
            target.copy_(source);
            best = i == 0 ? best : Math.Min(best, watch.Elapsed.TotalSeconds);
        }

        return 2.0 * source.NumberOfElements * source.ElementSize / best;
    }

    private static double TokensPerSecond(GptModel model, int batch, int newTokens, int repeats)
    {
        var generator = new TextGenerator(model, new ByteTokenizer());
        var random = new Random(1);
        var requests = Enumerable.Range(0, batch)
            .Select(_ => new GenerationRequest(Enumerable.Range(0, PromptTokens).Select(_ => random.Next(256)).ToArray(),
                new GenerationOptions { MaxNewTokens = newTokens }))
            .ToList();
        generator.Generate(requests); // warm-up
        var watch = Stopwatch.StartNew();
        long generated = 0;
        for (var i = 0; i < repeats; i++)
        {
            generated += generator.Generate(requests).Sum(result => result.Tokens.Count);
        }

        return generated / watch.Elapsed.TotalSeconds;
    }

    private static (double RelativeRms, double Agreement) LogitError(GptModel full, GptModel int8, int vocab)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var generator = new Generator(5);
        var tokens = randint(vocab, [4, 64], generator: generator);
        var reference = full.forward(tokens);
        var approximate = int8.forward(tokens);
        var rms = ((approximate - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()).item<float>();
        var agreement = approximate.argmax(-1).eq(reference.argmax(-1)).to(float32).mean().item<float>();
        return (rms, agreement);
    }
}
