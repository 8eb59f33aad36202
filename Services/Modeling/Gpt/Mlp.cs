using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Gpt;

/// <summary>The position-wise feed-forward network: width -> 4 x width -> GELU (tanh, as GPT-2) -> width.</summary>
internal sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> c_fc;
    private readonly Module<Tensor, Tensor> c_proj;

    public Mlp(GptConfig config, LinearFactory linear) : base(nameof(Mlp))
    {
        c_fc = linear(config.Width, 4 * config.Width);
        c_proj = linear(4 * config.Width, config.Width);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) =>
        c_proj.forward(functional.gelu(c_fc.forward(input), TorchSharp.Modules.GELU.Approximate.tanh));
}
