namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// The string metadata the product's own checkpoints carry in their safetensors header, readable
/// without loading a tensor (the registry records them from the header alone).
/// </summary>
public static class CheckpointMetadata
{
    /// <summary>The model's <c>GptConfig</c>, as JSON.</summary>
    public const string ConfigKey = "msswift.config";

    /// <summary>The tokenizer's registry id, such as <c>byte</c> or <c>gpt2</c>.</summary>
    public const string TokenizerKey = "msswift.tokenizer";

    /// <summary><c>int8</c> for a quantized model; absent otherwise.</summary>
    public const string QuantizationKey = "msswift.quantization";

    /// <summary>The <see cref="QuantizationKey"/> value of an int8 checkpoint.</summary>
    public const string EightBitQuantization = "int8";
}
