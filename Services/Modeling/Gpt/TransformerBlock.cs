using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Gpt;

/// <summary>A pre-LayerNorm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).</summary>
internal sealed class TransformerBlock : Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly Mlp mlp;

    public TransformerBlock(GptConfig config, int layer, LinearFactory linear) : base(nameof(TransformerBlock))
    {
        ln_1 = LayerNorm(config.Width, config.LayerNormEpsilon);
        attn = new CausalSelfAttention(config, layer, linear);
        ln_2 = LayerNorm(config.Width, config.LayerNormEpsilon);
        mlp = new Mlp(config, linear);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => Forward(input, cache: null, mask: null);

    public Tensor Forward(Tensor input, IAttentionCache? cache, Tensor? mask)
    {
        var x = input + attn.Forward(ln_1.forward(input), cache, mask);
        return x + mlp.forward(ln_2.forward(x));
    }
}

/// <summary>Creates the block's linear layers: plain fp32/bf16 <c>Linear</c>, or int8 weight-only.</summary>
internal delegate Module<Tensor, Tensor> LinearFactory(long inputs, long outputs);
