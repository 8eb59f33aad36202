using TorchSharp;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Quantization;

/// <summary>
/// The int8 matrix product on the CPU: dynamic quantization, as PyTorch's dynamic-quantized
/// <c>Linear</c> does it. Each call quantizes the activations per row (symmetric, scale =
/// max|row| / 127), multiplies int8 by int8 into int32 with libtorch's <c>aten::_int_mm</c> (oneDNN;
/// VNNI/AMX where the CPU has them), and rescales by the activation and weight scales. The int8
/// weight [N, K] is passed as a transposed view: nothing is copied or widened per call.
/// TorchSharp 0.107 binds none of libtorch's int8 products (<c>_int_mm</c>, <c>_weight_int8pack_mm</c>,
/// <c>quantized::linear_dynamic</c>); its TorchScript compiler (<c>torch.jit.compile</c>) reaches
/// any ATen operator, so the call goes through one compiled function. <c>_weight_int8pack_mm</c>
/// (int8 weight, fp32 activations) was measured too and is 4-7x slower than fp32 in this libtorch
/// build (docs/BENCHMARKS.md). Other devices dequantize per call (see <see cref="Int8Linear"/>).
/// </summary>
public static class Int8Kernels
{
    // A compilation error in TorchScript can abort the process instead of throwing: this text is
    // fixed and covered by tests, never built from input. dtypes come from the arguments because the
    // compiler TorchSharp exposes does not resolve torch.int8 and friends.
    private const string Script = """
        def dynamic_int8_mm(x: Tensor, weight: Tensor, scale: Tensor):
            x_scale = x.abs().amax(1, keepdim=True).clamp_min(1e-8) / 127.0
            xq = (x / x_scale).round().clamp(-127, 127).to(weight.dtype)
            return torch._int_mm(xq, weight.t()).to(x.dtype) * x_scale * scale
        """ + "\n"; // the TorchScript parser wants the last line ended

    private static readonly Lazy<jit.CompilationUnit> Unit = new(() => jit.compile(Script));

    /// <summary>True where the int8 kernel runs: fp32 tensors on the CPU.</summary>
    public static bool Supports(Tensor input) => input.device_type == DeviceType.CPU && input.dtype == float32;

    /// <summary>
    /// <paramref name="input"/> [..., K] times <paramref name="weight"/>ᵀ (int8 [N, K]) scaled per
    /// output column by <paramref name="scale"/> [N]: <c>linear(input, weight * scale)</c> up to the
    /// activations' 8-bit rounding.
    /// </summary>
    public static Tensor MatMul(Tensor input, Tensor weight, Tensor scale)
    {
        var leading = input.shape[..^1];
        var flat = input.reshape(-1, input.shape[^1]).contiguous();
        var product = (Tensor)Unit.Value.invoke("dynamic_int8_mm", flat, weight, scale);
        return product.view([.. leading, weight.shape[0]]);
    }
}
