using MsSwift.Modeling.Quantization;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class QuantizationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Int8_weights_are_at_least_3_5x_smaller()
    {
        using var model = TestModels.Create(TestModels.Tiny with { Width = 128 });
        using var quantized = Int8Quantizer.Quantize(model);

        var ratio = (double)model.LinearWeightBytes() / quantized.LinearWeightBytes();

        output.WriteLine($"linear weights: fp32 {model.LinearWeightBytes()} B, int8 {quantized.LinearWeightBytes()} B, ratio {ratio:F2}");
        Assert.True(ratio >= 3.5, $"ratio {ratio:F2}");
    }

    [Fact]
    public void Int8_logits_stay_within_the_measured_error_bound_of_fp32()
    {
        // Wider init than GPT-2's 0.02 so the logits are not all near zero and the error means something.
        using var model = TestModels.Create(TestModels.Tiny with { Width = 128 });
        using (no_grad())
        {
            foreach (var parameter in model.parameters().Where(parameter => parameter.dim() == 2))
            {
                parameter.mul_(5);
            }
        }

        using var quantized = Int8Quantizer.Quantize(model);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var tokens = TestModels.RandomTokens(4, 64);
        var reference = model.forward(tokens);
        var approximate = quantized.forward(tokens);

        var relativeRms = ((approximate - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()).item<float>();
        var maxAbs = TestModels.MaxAbsDiff(reference, approximate);
        var topAgreement = approximate.argmax(-1).eq(reference.argmax(-1)).to(float32).mean().item<float>();

        output.WriteLine($"int8 vs fp32 logits: relative RMS error {relativeRms:E2}, max |diff| {maxAbs:E2}, argmax agreement {topAgreement:P1}");
        Assert.True(relativeRms < 0.03, $"relative RMS error {relativeRms:E2} (bound 3e-2)");
        Assert.True(topAgreement > 0.90, $"argmax agreement {topAgreement:P1}");
        Assert.True(maxAbs > 0, "int8 logits equal fp32 exactly: quantization did nothing");
    }

    [Fact]
    public void Quantizing_twice_is_refused()
    {
        using var model = TestModels.Create();
        using var quantized = Int8Quantizer.Quantize(model);

        Assert.Throws<ArgumentException>(() => Int8Quantizer.Quantize(quantized));
    }
}
