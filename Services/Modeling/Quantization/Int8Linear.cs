using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MsSwift.Modeling.Quantization;

/// <summary>
/// A linear layer with int8 weights, symmetric and per output channel: W ≈ q · s with q in
/// [-127, 127] and one fp32 scale s per output row. Because s is per row it factors out of the
/// dot product: y = (x · qᵀ) ⊙ s + b, so activations stay in floating point (weight-only). On the
/// CPU the product is libtorch's int8 kernel (<see cref="Int8Kernels"/>), which reads the int8 weight
/// as it is; elsewhere the weight is widened per call into a temporary that is freed right after.
/// </summary>
public sealed class Int8Linear : Module<Tensor, Tensor>
{
    private readonly Tensor _weight;
    private readonly Tensor _scale;
    private readonly Tensor _bias;

    public Int8Linear(long inputs, long outputs) : base(nameof(Int8Linear))
    {
        _weight = zeros([outputs, inputs], dtype: int8);
        _scale = ones([outputs], dtype: float32);
        _bias = zeros([outputs], dtype: float32);
        // Buffers, not parameters: they are saved and moved with the model but never trained.
        register_buffer("weight", _weight);
        register_buffer("scale", _scale);
        register_buffer("bias", _bias);
    }

    /// <summary>Bytes of the quantized weight and its scales.</summary>
    public long WeightBytes => _weight.NumberOfElements * _weight.ElementSize + _scale.NumberOfElements * _scale.ElementSize;

    public override Tensor forward(Tensor input) =>
        Int8Kernels.Supports(input)
            ? Int8Kernels.MatMul(input, _weight, _scale).add_(_bias.to(input.dtype))
            : functional.linear(input, _weight.to(input.dtype)) * _scale.to(input.dtype) + _bias.to(input.dtype);

    /// <summary>Quantizes <paramref name="source"/>'s weights into this layer.</summary>
    public void QuantizeFrom(Linear source)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (weight, scale) = QuantizeRows(source.weight!);
        _weight.copy_(weight);
        _scale.copy_(scale);
        if (source.bias is { } bias)
        {
            _bias.copy_(bias.to(float32));
        }
    }

    /// <summary>Symmetric per-row int8: q = round(w / s) with s = max|row| / 127 (the caller disposes both).</summary>
    internal static (Tensor Quantized, Tensor Scale) QuantizeRows(Tensor weight)
    {
        var rows = weight.to(float32);
        var scale = rows.abs().amax([1]).div(127.0).clamp_min(1e-12);
        return (rows.div(scale.unsqueeze(1)).round().clamp(-127, 127).to(int8), scale);
    }
}
