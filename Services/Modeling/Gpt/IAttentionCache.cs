using static TorchSharp.torch;

namespace MsSwift.Modeling.Gpt;

/// <summary>Where attention layers keep keys and values between calls.</summary>
internal interface IAttentionCache
{
    /// <summary>Stores this call's keys and values [batch, heads, steps, headWidth] and returns every cached one to attend over.</summary>
    (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values);
}
