using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
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
/// bandwidth, measured here by a large tensor copy. PyTorch (Debian's, <c>pytorch_generate.py</c>)
/// runs a KV-cached greedy loop on the same fp32 weights for comparison.
/// </summary>
internal static class Int8Benchmark
{
    private static readonly GptConfig Gpt2Small = new() { Layers = 12, Heads = 12, Width = 768, ContextLength = 1024, VocabSize = 50257 };

    private const int PromptTokens = 16;

    public static async Task<int> RunAsync(int threads, int repeats, string python)
    {
        TorchRuntime.Configure(threads);
        var bandwidth = CopyBandwidthBytesPerSecond();
        Console.WriteLine($"libtorch {TorchRuntime.LibTorchVersion}, {TorchRuntime.IntraOpThreads} threads; memory bandwidth (256 MiB tensor copy, read + write): {bandwidth / 1e9:F1} GB/s");
        KernelTable();
        Console.WriteLine();
        Console.WriteLine("| shape | precision | weight bytes | vs fp32 | batch 1 tokens/s | batch 1 weight GB/s (share of copy bandwidth) | batch 16 tokens/s | logits: relative RMS error, argmax agreement |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        var pytorch = new List<string>();
        pytorch.Add(await CompareAsync("default (4 x 128, vocab 256)", new GptConfig(), newTokens: 64, repeats, bandwidth, python, threads));
        pytorch.Add(await CompareAsync("GPT-2 small (12 x 768, vocab 50257)", Gpt2Small, newTokens: 24, Math.Max(1, repeats / 3), bandwidth, python, threads));
        Console.WriteLine();
        foreach (var line in pytorch)
        {
            Console.WriteLine(line);
        }

        return 0;
    }

    private static async Task<string> CompareAsync(string shape, GptConfig config, int newTokens, int repeats, double bandwidth, string python, int threads)
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

        return $"PyTorch, {shape}, fp32, same weights, KV-cached greedy loop ({PromptTokens}-token prompt, {newTokens} new): {await PyTorchAsync(full, newTokens, repeats, python, threads)}";
    }

    /// <summary>PyTorch's tokens/s at batch 1 and 16 on <paramref name="model"/>'s weights, or why there are none.</summary>
    private static async Task<string> PyTorchAsync(GptModel model, int newTokens, int repeats, string python, int threads)
    {
        var folder = Directory.CreateTempSubdirectory("msswift-int8-bench-").FullName;
        try
        {
            await using (var weights = File.Create(Path.Combine(folder, "model.safetensors")))
            {
                HuggingFaceGpt2.Export(weights, model);
            }

            await File.WriteAllTextAsync(Path.Combine(folder, HuggingFaceGpt2.ConfigFileName), JsonSerializer.Serialize(model.Config));
            var startInfo = new ProcessStartInfo(python,
                [Path.Combine(AppContext.BaseDirectory, "pytorch_generate.py"), "--weights", folder, "--threads", threads.ToString(CultureInfo.InvariantCulture),
                 "--prompt", PromptTokens.ToString(CultureInfo.InvariantCulture), "--new-tokens", newTokens.ToString(CultureInfo.InvariantCulture),
                 "--repeats", repeats.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(startInfo)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                return $"failed ({process.ExitCode}): {error.Trim()}";
            }

            using var result = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
            var root = result.RootElement;
            return $"batch 1 {root.GetProperty("batch1_tokens_per_s").GetDouble():F0} tokens/s, batch 16 {root.GetProperty("batch16_tokens_per_s").GetDouble():F0} tokens/s (torch {root.GetProperty("torch").GetString()}, {root.GetProperty("threads").GetInt32()} threads)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return $"'{python}' not found (./build.sh bench installs python3-torch)";
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The candidates for the int8 product, one layer of GPT-2 small's MLP and its output head, per
    /// call: fp32 <c>linear</c> for reference, the kernel serving uses (dynamic activation
    /// quantization + <c>_int_mm</c>), widening the int8 weight per call, and <c>_weight_int8pack_mm</c>.
    /// </summary>
    private static void KernelTable()
    {
        using var unit = jit.compile("def weight_only(x: Tensor, w: Tensor, s: Tensor):\n    return torch._weight_int8pack_mm(x, w, s)\n");
        Console.WriteLine();
        Console.WriteLine("| product (M rows x K) x (K x N) | fp32 linear | int8 _int_mm, dynamic (serving) | int8 widened per call | int8 _weight_int8pack_mm |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (inputs, outputs) in new[] { (768L, 3072L), (768L, 50257L) })
        {
            foreach (var rows in new[] { 1L, 16L })
            {
                using var scope = NewDisposeScope();
                using var _ = inference_mode();
                var x = randn(rows, inputs);
                var full = randn(outputs, inputs).mul_(0.02);
                var weight = randint(-127, 128, [outputs, inputs]).to(int8);
                var scale = rand(outputs).mul_(0.001);
                var calls = outputs > 10_000 ? 5 : 50;
                var fp32 = Microseconds(calls, () => nn.functional.linear(x, full));
                var dynamic = Microseconds(calls, () => Int8Kernels.MatMul(x, weight, scale));
                var widened = Microseconds(calls, () => nn.functional.linear(x, weight.to(float32)).mul_(scale));
                var weightOnly = Microseconds(calls, () => (Tensor)unit.invoke("weight_only", x, weight, scale));
                Console.WriteLine($"| ({rows} x {inputs}) x ({inputs} x {outputs}) | {fp32:F0} us | {dynamic:F0} us | {widened:F0} us | {weightOnly:F0} us |");
            }
        }
    }

    /// <summary>Median time of one call, over five runs of <paramref name="calls"/> calls after a warm-up.</summary>
    private static double Microseconds(int calls, Func<Tensor> call)
    {
        var times = new List<double>();
        for (var run = 0; run < 6; run++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++)
            {
                using var scope = NewDisposeScope();
                call();
            }

            times.Add(watch.Elapsed.TotalMilliseconds * 1000 / calls);
        }

        times.RemoveAt(0);
        times.Sort();
        return times[times.Count / 2];
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
        var generator = new TextGenerator(model, model.Config.VocabSize == 256 ? new ByteTokenizer() : new Gpt2Tokenizer());
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
