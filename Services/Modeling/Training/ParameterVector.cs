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
        Copy(parameters, flat, parameter => parameter);
    }

    public static float[] ReadGradients(IReadOnlyList<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        return cat(parameters.Select(parameter => (parameter.grad ?? zeros_like(parameter)).reshape(-1).to(float32).cpu()).ToList(), 0).data<float>().ToArray();
    }

    public static void WriteGradients(IReadOnlyList<Parameter> parameters, ReadOnlySpan<float> flat)
    {
        foreach (var parameter in parameters.Where(parameter => parameter.grad is null))
        {
            parameter.grad = zeros_like(parameter).DetachFromDisposeScope();
        }

        Copy(parameters, flat, parameter => parameter.grad!);
    }

    private static void Copy(IReadOnlyList<Parameter> parameters, ReadOnlySpan<float> flat, Func<Parameter, Tensor> target)
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
            target(parameter).copy_(source);
            offset += count;
        }
    }
}
