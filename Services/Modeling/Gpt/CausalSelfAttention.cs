using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Gpt;

/// <summary>Multi-head causal self-attention with a fused QKV projection (GPT-2's c_attn/c_proj).</summary>
internal sealed class CausalSelfAttention : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> c_attn;
    private readonly Module<Tensor, Tensor> c_proj;
    private readonly int _heads;
    private readonly int _headWidth;
    private readonly int _layer;

    public CausalSelfAttention(GptConfig config, int layer, LinearFactory linear) : base(nameof(CausalSelfAttention))
    {
        _heads = config.Heads;
        _headWidth = config.HeadWidth;
        _layer = layer;
        c_attn = linear(config.Width, 3 * config.Width);
        c_proj = linear(config.Width, config.Width);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => Forward(input, cache: null, mask: null);

    /// <param name="input">[batch, steps, width]</param>
    /// <param name="cache">When given, keys and values are appended to it and attention covers the whole prefix.</param>
    /// <param name="mask">Boolean [batch, 1, steps, keys] (true = may attend), or null for plain causal attention.</param>
    public Tensor Forward(Tensor input, IAttentionCache? cache, Tensor? mask)
    {
        var batch = input.shape[0];
        var steps = input.shape[1];
        var qkv = c_attn.forward(input).view(batch, steps, 3, _heads, _headWidth).permute(2, 0, 3, 1, 4);
        var (query, key, value) = (qkv[0], qkv[1], qkv[2]);
        var attended = cache is not null ? cache.Attend(_layer, query, key, value, mask) : Scaled(query, key, value, mask);
        return c_proj.forward(attended.transpose(1, 2).reshape(batch, steps, _heads * _headWidth));
    }

    /// <summary>
    /// Scaled dot-product attention. With no mask, a fresh sequence attends causally, and a
    /// single decode step sees every key it is given.
    /// </summary>
    internal static Tensor Scaled(Tensor query, Tensor keys, Tensor values, Tensor? mask) => mask is not null
        ? functional.scaled_dot_product_attention(query, keys, values, attn_mask: mask)
        : functional.scaled_dot_product_attention(query, keys, values, is_casual: query.shape[2] > 1);
}
