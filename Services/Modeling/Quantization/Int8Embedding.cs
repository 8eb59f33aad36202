using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Quantization;

/// <summary>
/// A token embedding with int8 rows and one fp32 scale per row (symmetric, as <see cref="Int8Linear"/>).
/// It also serves as the output head tied to it: logits = x · (q · s)ᵀ, computed by the int8 kernel.
/// On the default small model and on GPT-2's shape it is a large share of the weights, so leaving it
/// fp32 would keep a quantized model far above a third of the fp32 one.
/// </summary>
public sealed class Int8Embedding : Module<Tensor, Tensor>
{
    private readonly Tensor _weight;
    private readonly Tensor _scale;

    public Int8Embedding(long rows, long width) : base(nameof(Int8Embedding))
    {
        _weight = zeros([rows, width], dtype: int8);
        _scale = ones([rows], dtype: float32);
        register_buffer("weight", _weight);
        register_buffer("scale", _scale);
    }

    /// <summary>Bytes of the int8 rows and their scales.</summary>
    public long WeightBytes => _weight.NumberOfElements * _weight.ElementSize + _scale.NumberOfElements * _scale.ElementSize;

    /// <summary>The rows of <paramref name="tokens"/>, dequantized: [..., width] fp32.</summary>
    public override Tensor forward(Tensor tokens) =>
        _weight.index_select(0, tokens.flatten()).to(float32).mul_(_scale.index_select(0, tokens.flatten()).unsqueeze(1))
            .view([.. tokens.shape, _weight.shape[1]]);

    /// <summary>The tied output head: <paramref name="input"/> [..., width] -> logits [..., rows].</summary>
    public Tensor Project(Tensor input) =>
        Int8Kernels.Supports(input)
            ? Int8Kernels.MatMul(input, _weight, _scale)
            : functional.linear(input, _weight.to(input.dtype)) * _scale.to(input.dtype);

    /// <summary>Quantizes an fp32 embedding table [rows, width] into this one, row by row.</summary>
    public void QuantizeFrom(Tensor table)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (quantized, scale) = Int8Linear.QuantizeRows(table);
        _weight.copy_(quantized);
        _scale.copy_(scale);
    }
}
