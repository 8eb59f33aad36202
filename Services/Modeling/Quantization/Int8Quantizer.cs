using MsSwift.Modeling.Gpt;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Quantization;

public static class Int8Quantizer
{
    /// <summary>
    /// A copy of <paramref name="model"/> whose transformer linear layers and token embedding (and
    /// so the tied output head) hold int8 weights; the position embedding, biases and LayerNorms
    /// stay in full precision (they are a few percent of the bytes).
    /// </summary>
    public static GptModel Quantize(GptModel model)
    {
        if (model.IsInt8)
        {
            throw new ArgumentException("the model is already quantized", nameof(model));
        }

        var quantized = new GptModel(model.Config, quantized: true);
        var targets = quantized.named_modules().ToDictionary(entry => entry.name, entry => entry.module);
        using (no_grad())
        {
            foreach (var (name, module) in model.named_modules())
            {
                if (module is Linear linear)
                {
                    ((Int8Linear)targets[name]).QuantizeFrom(linear);
                }
                else if (module is Embedding embedding && targets[name] is Int8Embedding table)
                {
                    // Embedding.weight is a new wrapper per call: held until the quantization has read it.
                    using var weight = embedding.weight!;
                    table.QuantizeFrom(weight);
                }
            }

            var parameters = quantized.named_parameters().ToDictionary(entry => entry.name, entry => entry.parameter);
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (parameters.TryGetValue(name, out var target))
                {
                    target.copy_(parameter);
                }
            }
        }

        quantized.to(model.Device);
        quantized.eval();
        return quantized;
    }
}
