using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Training;

/// <summary>
/// A model's parameters (or their gradients) as one flat fp32 vector, in the model's parameter
/// order: the unit data-parallel training sends between workers and the parameter server.
/// </summary>
public static class ParameterVector
{
    public static long Length(IEnumerable<Parameter> parameters) => parameters.Sum(parameter => parameter.NumberOfElements);

    public static float[] Read(IReadOnlyList<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        return cat(parameters.Select(parameter => parameter.detach().reshape(-1).to(float32).cpu()).ToList(), 0).data<float>().ToArray();
    }

    public static void Write(IReadOnlyList<Parameter> parameters, ReadOnlySpan<float> flat)
    {
        using var _ = no_grad();
        Copy(parameters, flat, (parameter, source) => parameter.copy_(source));
    }

    public static float[] ReadGradients(IReadOnlyList<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        return cat(parameters.Select(parameter => (parameter.grad ?? zeros_like(parameter)).reshape(-1).to(float32).cpu()).ToList(), 0).data<float>().ToArray();
    }

    public static void WriteGradients(IReadOnlyList<Parameter> parameters, ReadOnlySpan<float> flat) =>
        Copy(parameters, flat, (parameter, source) =>
        {
            // Every `parameter.grad` is a new wrapper of its own native handle. It is held in a
            // variable until the copy returns: a temporary one is unreachable once its handle is
            // read, and in optimised code the GC finalised it (freeing the handle) while copy_
            // still ran on it, which crashed the parameter server in libtorch (bump_version).
            var gradient = parameter.grad;
            if (gradient is null)
            {
                using var zeros = zeros_like(parameter);
                parameter.grad = zeros;
                gradient = parameter.grad!;
            }

            using (gradient)
            {
                gradient.copy_(source);
            }
        });

    private static void Copy(IReadOnlyList<Parameter> parameters, ReadOnlySpan<float> flat, Action<Parameter, Tensor> copy)
    {
        var expected = Length(parameters);
        if (flat.Length != expected)
        {
            throw new ArgumentException($"the vector has {flat.Length} elements; the parameters have {expected}", nameof(flat));
        }

        var offset = 0;
        foreach (var parameter in parameters)
        {
            var count = (int)parameter.NumberOfElements;
            using var source = tensor(flat.Slice(offset, count).ToArray(), parameter.shape, dtype: float32);
            copy(parameter, source);
            offset += count;
        }
    }
}
