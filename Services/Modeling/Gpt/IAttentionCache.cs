using static TorchSharp.torch;

namespace MsSwift.Modeling.Gpt;

/// <summary>Where attention layers keep keys and values between calls.</summary>
internal interface IAttentionCache
{
    /// <summary>
    /// Stores this call's keys and values [batch, heads, steps, headWidth] and returns the
    /// attention of <paramref name="query"/> over every cached one. The cache runs the attention
    /// itself because it knows which positions each row really has: a slot cache attends each
    /// group of similar-length rows over its own prefix instead of every row over the longest.
    /// </summary>
    Tensor Attend(int layer, Tensor query, Tensor keys, Tensor values, Tensor? mask);
}
