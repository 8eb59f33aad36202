using System.Text.Json.Serialization;

namespace MsSwift.Modeling.Gpt;

/// <summary>
/// Shape of a decoder-only transformer. Field names follow GPT-2's config.json so a checkpoint's
/// metadata reads the same as a Hugging Face config.
/// </summary>
public sealed record GptConfig
{
    /// <summary>Number of transformer blocks.</summary>
    [JsonPropertyName("n_layer")]
    public int Layers { get; init; } = 4;

    /// <summary>Attention heads per block; must divide <see cref="Width"/>.</summary>
    [JsonPropertyName("n_head")]
    public int Heads { get; init; } = 4;

    /// <summary>Model (embedding) width.</summary>
    [JsonPropertyName("n_embd")]
    public int Width { get; init; } = 128;

    /// <summary>Maximum sequence length (positions).</summary>
    [JsonPropertyName("n_positions")]
    public int ContextLength { get; init; } = 256;

    /// <summary>Vocabulary size; 256 for the byte tokenizer, 50257 for GPT-2 BPE.</summary>
    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; } = 256;

    /// <summary>LayerNorm epsilon (GPT-2: 1e-5).</summary>
    [JsonPropertyName("layer_norm_epsilon")]
    public double LayerNormEpsilon { get; init; } = 1e-5;

    [JsonIgnore]
    public int HeadWidth => Width / Heads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that is out of range.</summary>
    public GptConfig Validate()
    {
        Require(Layers is >= 1 and <= 256, nameof(Layers), $"must be between 1 and 256, got {Layers}");
        Require(Heads >= 1, nameof(Heads), $"must be at least 1, got {Heads}");
        Require(Width >= 1, nameof(Width), $"must be at least 1, got {Width}");
        Require(Width % Heads == 0, nameof(Heads), $"must divide the model width: {Width} is not divisible by {Heads}");
        Require(ContextLength >= 1, nameof(ContextLength), $"must be at least 1, got {ContextLength}");
        Require(VocabSize >= 2, nameof(VocabSize), $"must be at least 2, got {VocabSize}");
        Require(LayerNormEpsilon is > 0 and < 1, nameof(LayerNormEpsilon), $"must be in (0, 1), got {LayerNormEpsilon}");
        return this;
    }

    private static void Require(bool condition, string field, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"model config {field} {message}", field);
        }
    }
}
