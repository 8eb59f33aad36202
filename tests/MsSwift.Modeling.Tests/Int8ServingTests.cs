using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Quantization;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Tests;

/// <summary>What int8 serving promises: the registry's checkpoint quantizer, the memory a loaded int8 version holds, and the kernel.</summary>
[Collection(TorchSerialGroup.Name)]
public sealed class Int8ServingTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("msswift-int8-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task The_registrys_checkpoint_quantizer_writes_the_same_bytes_as_quantizing_the_loaded_model()
    {
        var store = new LocalDirectoryCheckpointStore(_root);
        using var model = TestModels.Create();
        using var quantized = Int8Quantizer.Quantize(model);
        await GptCheckpoint.SaveAsync(store, "fp32.safetensors", model, "byte");
        await GptCheckpoint.SaveAsync(store, "expected.safetensors", quantized, "byte");

        using (var source = File.OpenRead(Path.Combine(_root, "fp32.safetensors")))
        using (var destination = File.Create(Path.Combine(_root, "int8.safetensors")))
        {
            Int8CheckpointQuantizer.Quantize(source, destination);
        }

        Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "expected.safetensors")), File.ReadAllBytes(Path.Combine(_root, "int8.safetensors")));
        using var again = File.OpenRead(Path.Combine(_root, "int8.safetensors"));
        Assert.Throws<CheckpointAlreadyQuantizedException>(() => Int8CheckpointQuantizer.Quantize(again, Stream.Null));
    }

    [Fact]
    public async Task A_loaded_int8_version_of_the_default_model_holds_at_most_035x_the_bytes_of_fp32_and_keeps_them_int8()
    {
        var store = new LocalDirectoryCheckpointStore(_root);
        using var model = TestModels.Create(new GptConfig());
        await GptCheckpoint.SaveAsync(store, "fp32.safetensors", model, "byte");
        using (var source = File.OpenRead(Path.Combine(_root, "fp32.safetensors")))
        using (var destination = File.Create(Path.Combine(_root, "int8.safetensors")))
        {
            Int8CheckpointQuantizer.Quantize(source, destination);
        }

        using var full = await GptCheckpoint.LoadAsync(store, "fp32.safetensors", CPU);
        using var quantized = await GptCheckpoint.LoadAsync(store, "int8.safetensors", CPU);
        using (NewDisposeScope())
        using (inference_mode())
        {
            quantized.Model.forward(TestModels.RandomTokens(2, 32)); // serving leaves no widened copy behind
        }

        var ratio = (double)quantized.Model.WeightBytes() / full.Model.WeightBytes();
        var int8Bytes = quantized.Model.state_dict().Where(entry => entry.Value.dtype == int8).Sum(entry => entry.Value.NumberOfElements);

        output.WriteLine($"loaded default model: fp32 {full.Model.WeightBytes()} B, int8 {quantized.Model.WeightBytes()} B ({ratio:F3}x); {int8Bytes} int8 values");
        Assert.True(quantized.Model.IsInt8);
        Assert.True(ratio <= 0.35, $"int8 holds {ratio:F3}x of fp32");
        Assert.Equal(quantized.Model.WeightBytes(), quantized.Model.state_dict().Sum(entry => entry.Value.NumberOfElements * entry.Value.ElementSize));
        Assert.Equal(ScalarType.Int8, quantized.Model.state_dict()["wte.weight"].dtype);
        Assert.Equal(ScalarType.Int8, quantized.Model.state_dict()["h.0.mlp.c_fc.weight"].dtype);
    }

    [Theory]
    [InlineData(1, 128, 384)]
    [InlineData(16, 64, 257)]
    [InlineData(5, 768, 2304)]
    public void The_int8_kernel_multiplies_int8_activations_by_int8_weights_exactly(int rows, int inputs, int outputs)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var x = randn([2, rows, inputs], generator: generator);
        var weight = randint(-127, 128, [outputs, inputs], generator: generator).to(int8);
        var scale = rand([outputs], generator: generator).mul_(0.01);

        var product = Int8Kernels.MatMul(x, weight, scale);
        // What the kernel computes: activations rounded to int8 per row, then an exact integer product.
        var rowScale = x.abs().amax([-1], keepdim: true) / 127.0;
        var roundedInput = (x / rowScale).round() * rowScale;
        var exact = functional.linear(roundedInput, weight.to(float32) * scale.unsqueeze(1));
        var full = functional.linear(x, weight.to(float32) * scale.unsqueeze(1));

        Assert.Equal(new long[] { 2, rows, outputs }, product.shape);
        var fromExact = TestModels.MaxAbsDiff(product, exact) / exact.abs().max().item<float>();
        var fromFull = ((product - full).pow(2).mean().sqrt() / full.pow(2).mean().sqrt()).item<float>();
        output.WriteLine($"[{rows}x{inputs}] x [{inputs}x{outputs}]: max relative diff from the int8 product {fromExact:E2}, relative RMS from fp32 activations {fromFull:E2}");
        Assert.True(fromExact < 1e-5, $"relative difference {fromExact:E2} from the int8 product");
        Assert.True(fromFull is > 0 and < 1e-2f, $"relative RMS {fromFull:E2} from the fp32-activation product");
    }
}
