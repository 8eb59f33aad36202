using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// The safetensors format: the header (<see cref="SafeTensorsHeader"/>), then the raw
/// little-endian tensor bytes. Tensors are written in name order, so the same tensors always give
/// the same bytes.
/// </summary>
public static class SafeTensors
{
    private static readonly Dictionary<ScalarType, string> DTypeNames = new()
    {
        [ScalarType.Float32] = "F32",
        [ScalarType.Float16] = "F16",
        [ScalarType.BFloat16] = "BF16",
        [ScalarType.Float64] = "F64",
        [ScalarType.Int8] = "I8",
        [ScalarType.Byte] = "U8",
        [ScalarType.Int16] = "I16",
        [ScalarType.Int32] = "I32",
        [ScalarType.Int64] = "I64",
        [ScalarType.Bool] = "BOOL",
    };

    private static readonly Dictionary<string, ScalarType> DTypesByName = DTypeNames.ToDictionary(entry => entry.Value, entry => entry.Key);

    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(entry => entry.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            header[SafeTensorsHeader.MetadataKey] = new JsonObject(metadata.OrderBy(entry => entry.Key, StringComparer.Ordinal)
                .Select(entry => KeyValuePair.Create(entry.Key, (JsonNode?)JsonValue.Create(entry.Value))));
        }

        long offset = 0;
        foreach (var (name, tensor) in ordered)
        {
            if (!DTypeNames.TryGetValue(tensor.dtype, out var dtype))
            {
                throw new NotSupportedException($"tensor '{name}' has dtype {tensor.dtype}, which safetensors does not store");
            }

            var length = tensor.NumberOfElements * tensor.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(tensor.shape.Select(size => (JsonNode?)JsonValue.Create(size)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + length)),
            };
            offset += length;
        }

        SafeTensorsHeader.Write(stream, header);
        foreach (var (_, tensor) in ordered)
        {
            // Each step's wrapper is held until the next call on it returns (see ParameterVector.WriteGradients).
            using var detached = tensor.detach();
            using var host = detached.cpu();
            using var contiguous = host.contiguous();
            stream.Write(contiguous.bytes);
        }
    }

    /// <summary>Reads every tensor onto the CPU. The caller owns (and disposes) the tensors.</summary>
    public static SafeTensorsFile Read(Stream stream)
    {
        var header = SafeTensorsHeader.Read(stream);
        var metadata = SafeTensorsHeader.Metadata(header);
        var entries = new List<(string Name, ScalarType DType, long[] Shape, long Start, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == SafeTensorsHeader.MetadataKey)
            {
                continue;
            }

            var dtypeName = node!["dtype"]!.GetValue<string>();
            if (!DTypesByName.TryGetValue(dtypeName, out var dtype))
            {
                throw new NotSupportedException($"tensor '{name}' has unsupported dtype {dtypeName}");
            }

            var offsets = node["data_offsets"]!.AsArray();
            entries.Add((name, dtype, node["shape"]!.AsArray().Select(size => size!.GetValue<long>()).ToArray(),
                offsets[0]!.GetValue<long>(), offsets[1]!.GetValue<long>()));
        }

        var tensors = new Dictionary<string, Tensor>();
        long position = 0;
        foreach (var entry in entries.OrderBy(entry => entry.Start))
        {
            if (entry.Start < position)
            {
                throw new InvalidDataException($"tensor '{entry.Name}' overlaps another tensor's bytes");
            }

            stream.ReadExactly(new byte[entry.Start - position]);
            var tensor = empty(entry.Shape, dtype: entry.DType).DetachFromDisposeScope();
            var expected = tensor.NumberOfElements * tensor.ElementSize;
            if (entry.End - entry.Start != expected)
            {
                tensor.Dispose();
                throw new InvalidDataException($"tensor '{entry.Name}' has {entry.End - entry.Start} bytes for shape [{string.Join(", ", entry.Shape)}] of {entry.DType}, which needs {expected}");
            }

            stream.ReadExactly(tensor.bytes);
            tensors[entry.Name] = tensor;
            position = entry.End;
        }

        return new SafeTensorsFile(tensors, metadata);
    }
}

/// <summary>The tensors and string metadata of one safetensors file.</summary>
public sealed class SafeTensorsFile(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata) : IDisposable
{
    public IReadOnlyDictionary<string, Tensor> Tensors { get; } = tensors;

    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;

    public void Dispose()
    {
        foreach (var tensor in Tensors.Values)
        {
            tensor.Dispose();
        }
    }
}
