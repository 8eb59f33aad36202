using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using MsSwift.Modeling.Training;
using static TorchSharp.torch;

namespace MsSwift.Bench;

/// <summary>
/// Model-core benchmark: generation tokens/s at batch 1 and 32, a forward pass and a training
/// step, and the same forward pass and training step in PyTorch on the same weights, in one run.
/// </summary>
internal static class ModelBenchmark
{
    public static readonly GptConfig DefaultConfig = new() { Layers = 4, Heads = 4, Width = 256, ContextLength = 256, VocabSize = 256 };

    private const int Batch = 32;
    private const int Steps = 128;
    private const int TrainBatch = 16;
    private const int PromptTokens = 16;
    private const int NewTokens = 64;

    public static async Task<int> RunAsync(int threads, int repeats, string python)
    {
        TorchRuntime.Configure(threads);
        manual_seed(0);
        using var model = new GptModel(DefaultConfig);
        model.eval();
        var parameters = model.parameters().Sum(parameter => parameter.NumberOfElements);
        Console.WriteLine($"model: {DefaultConfig.Layers} layers, {DefaultConfig.Heads} heads, width {DefaultConfig.Width}, context {DefaultConfig.ContextLength}, vocab {DefaultConfig.VocabSize} ({parameters / 1e6:F2} M parameters); libtorch {TorchRuntime.LibTorchVersion}, {TorchRuntime.IntraOpThreads} threads");

        var generation1 = GenerationTokensPerSecond(model, 1, repeats);
        var generation32 = GenerationTokensPerSecond(model, Batch, Math.Max(2, repeats / 3));
        var folder = Directory.CreateTempSubdirectory("msswift-bench-").FullName;
        try
        {
            var forwardMs = ForwardMilliseconds(model, folder, repeats);
            var trainMs = TrainStepMilliseconds(model, repeats);
            var pytorch = await RunPyTorchAsync(model, folder, python, threads, repeats);

            Console.WriteLine();
            Console.WriteLine("| measure | TorchSharp | PyTorch | TorchSharp / PyTorch time |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine($"| generation, batch 1 ({PromptTokens}-token prompt, {NewTokens} new, greedy, KV cache) | {generation1:F0} tokens/s | | |");
            Console.WriteLine($"| generation, batch {Batch} | {generation32:F0} tokens/s | | |");
            Console.WriteLine($"| forward, batch {Batch} x {Steps} tokens | {forwardMs:F1} ms | {Format(pytorch?.ForwardMs)} | {Ratio(forwardMs, pytorch?.ForwardMs)} |");
            Console.WriteLine($"| training step (AdamW, clip), batch {TrainBatch} x {Steps} tokens, fp32 | {trainMs:F1} ms | {Format(pytorch?.TrainStepMs)} | {Ratio(trainMs, pytorch?.TrainStepMs)} |");
            if (pytorch is not null)
            {
                Console.WriteLine();
                Console.WriteLine($"PyTorch {pytorch.Torch}, BLAS {pytorch.Blas}, {pytorch.Threads} threads; max |logit difference| between the stacks on the same weights and input: {pytorch.MaxAbsLogitDiff:E2}");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        return 0;
    }

    private static double GenerationTokensPerSecond(GptModel model, int batch, int repeats)
    {
        var generator = new TextGenerator(model, new ByteTokenizer());
        var random = new Random(1);
        var requests = Enumerable.Range(0, batch)
            .Select(_ => new GenerationRequest(Enumerable.Range(0, PromptTokens).Select(_ => random.Next(256)).ToArray(),
                new GenerationOptions { MaxNewTokens = NewTokens }))
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

    private static double ForwardMilliseconds(GptModel model, string folder, int repeats)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var generator = new Generator(3);
        var inputs = randint(DefaultConfig.VocabSize, [Batch, Steps], generator: generator);
        var logits = model.forward(inputs);
        File.WriteAllBytes(Path.Combine(folder, "inputs.bin"), inputs.bytes.ToArray());
        File.WriteAllBytes(Path.Combine(folder, "logits.bin"), logits.contiguous().bytes.ToArray());
        return Median(repeats, () =>
        {
            using var step = NewDisposeScope();
            model.forward(inputs);
        });
    }

    private static double TrainStepMilliseconds(GptModel source, int repeats)
    {
        manual_seed(0);
        using var model = new GptModel(DefaultConfig);
        using (no_grad())
        {
            foreach (var (target, weights) in model.parameters().Zip(source.parameters()))
            {
                target.copy_(weights);
            }
        }

        using var trainer = new GptTrainer(model, new TrainingHyperparameters { WarmupSteps = 0, TotalSteps = 1000 });
        using var generator = new Generator(4);
        using var batch = TokenBatch.FromWindows(randint(DefaultConfig.VocabSize, [TrainBatch, Steps + 1], generator: generator));
        return Median(repeats, () => trainer.TrainStep([batch]));
    }

    private static async Task<PyTorchResult?> RunPyTorchAsync(GptModel model, string folder, string python, int threads, int repeats)
    {
        await using (var weights = File.Create(Path.Combine(folder, "model.safetensors")))
        {
            HuggingFaceGpt2.Export(weights, model);
        }

        await File.WriteAllTextAsync(Path.Combine(folder, HuggingFaceGpt2.ConfigFileName), JsonSerializer.Serialize(model.Config));
        var script = Path.Combine(AppContext.BaseDirectory, "pytorch_gpt.py");
        var startInfo = new ProcessStartInfo(python,
            [script, "--weights", folder, "--threads", threads.ToString(CultureInfo.InvariantCulture),
             "--batch", Batch.ToString(CultureInfo.InvariantCulture), "--steps", Steps.ToString(CultureInfo.InvariantCulture),
             "--train-batch", TrainBatch.ToString(CultureInfo.InvariantCulture), "--repeats", repeats.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            using var process = Process.Start(startInfo)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                Console.Error.WriteLine($"PyTorch comparison failed ({process.ExitCode}): {error}");
                return null;
            }

            return JsonSerializer.Deserialize<PyTorchResult>(output.Trim().Split('\n')[^1]);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"'{python}' not found: install python3-torch (./build.sh bench does) for the PyTorch comparison");
            return null;
        }
    }

    private static double Median(int repeats, Action action)
    {
        action();
        action();
        var times = new List<double>();
        for (var i = 0; i < repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times.Add(watch.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }

    private static string Format(double? milliseconds) => milliseconds is { } value ? $"{value:F1} ms" : "n/a";

    private static string Ratio(double ours, double? theirs) => theirs is { } value ? $"{ours / value:F2}x" : "n/a";

    private sealed record PyTorchResult(
        [property: System.Text.Json.Serialization.JsonPropertyName("torch")] string Torch,
        [property: System.Text.Json.Serialization.JsonPropertyName("blas")] string Blas,
        [property: System.Text.Json.Serialization.JsonPropertyName("threads")] int Threads,
        [property: System.Text.Json.Serialization.JsonPropertyName("forward_ms")] double ForwardMs,
        [property: System.Text.Json.Serialization.JsonPropertyName("train_step_ms")] double TrainStepMs,
        [property: System.Text.Json.Serialization.JsonPropertyName("max_abs_logit_diff")] double MaxAbsLogitDiff);
}
