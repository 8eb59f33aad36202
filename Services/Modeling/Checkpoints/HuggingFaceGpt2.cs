using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// The Hugging Face GPT-2 tensor layout (<c>wte.weight</c>, <c>h.0.attn.c_attn.weight</c>, ...,
/// optionally under <c>transformer.</c>), so real GPT-2-family weights saved as safetensors can be
/// served. GPT-2 stores its projections as Conv1D, [inputs, outputs]: the transpose of a Linear.
/// </summary>
public static class HuggingFaceGpt2
{
    public const string ConfigFileName = "config.json";

    private const string Prefix = "transformer.";

    private static readonly string[] Conv1DSuffixes = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];

    /// <summary>True when the tensors look like GPT-2's layout rather than this product's own.</summary>
    public static bool LooksLikeGpt2(SafeTensorsFile file) =>
        file.Tensors.ContainsKey("wte.weight") && file.Tensors.ContainsKey("h.0.attn.c_attn.weight") && !file.Metadata.ContainsKey(CheckpointMetadata.ConfigKey)
        || file.Tensors.ContainsKey(Prefix + "wte.weight");

    /// <summary>Builds a model from GPT-2-layout tensors and the matching config.json values.</summary>
    public static GptModel Import(SafeTensorsFile file, GptConfig config)
    {
        var model = new GptModel(config);
        var expected = model.state_dict();
        var source = new Dictionary<string, Tensor>();
        foreach (var (rawName, tensor) in file.Tensors)
        {
            var name = rawName.StartsWith(Prefix, StringComparison.Ordinal) ? rawName[Prefix.Length..] : rawName;
            // The causal-mask buffers and the (tied) output head carry no weights of their own.
            if (name.EndsWith(".attn.bias", StringComparison.Ordinal) || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal) || name == "lm_head.weight")
            {
                continue;
            }

            if (!expected.ContainsKey(name))
            {
                throw new InvalidDataException($"tensor '{rawName}' has no place in a GPT-2 model with {config.Layers} layers");
            }

            source[name] = IsConv1D(name) ? tensor.t() : tensor;
        }

        var missing = expected.Keys.Except(source.Keys).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidDataException($"GPT-2 checkpoint lacks {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", ..." : "")}");
        }

        using (no_grad())
        {
            foreach (var (name, target) in expected)
            {
                if (!target.shape.SequenceEqual(source[name].shape))
                {
                    throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(", ", source[name].shape)}], the config needs [{string.Join(", ", target.shape)}]");
                }

                target.copy_(source[name]);
            }
        }

        return model;
    }

    /// <summary>Writes <paramref name="model"/>'s weights in GPT-2's layout (Conv1D orientation, no prefix).</summary>
    public static void Export(Stream stream, GptModel model)
    {
        if (model.IsInt8)
        {
            throw new ArgumentException("int8 models have no GPT-2 layout; export the fp32 model", nameof(model));
        }

        using var scope = NewDisposeScope();
        var tensors = model.state_dict().ToDictionary(
            entry => entry.Key,
            entry => IsConv1D(entry.Key) ? entry.Value.t().contiguous() : entry.Value);
        SafeTensors.Write(stream, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static bool IsConv1D(string name) => Conv1DSuffixes.Any(suffix => name.EndsWith(suffix, StringComparison.Ordinal));
}
