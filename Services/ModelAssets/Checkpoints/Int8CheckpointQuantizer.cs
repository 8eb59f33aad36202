using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// Turns one of the product's fp32 checkpoints into an int8 one without a tensor library, so the
/// registry can quantize a version without loading libtorch: every transformer linear weight and the
/// token embedding (tied to the output head) become symmetric per-row int8 plus one fp32 scale per
/// row (<c>X.scale</c>), exactly the layout and the numbers of <c>Int8Quantizer</c> (q = round(w / s),
/// half to even, s = max|row| / 127). Everything else is copied as it is.
/// </summary>
public static partial class Int8CheckpointQuantizer
{
    /// <summary>Reads <paramref name="source"/> (a whole safetensors file) and writes its int8 version to <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidDataException">Not one of the product's own fp32 checkpoints.</exception>
    /// <exception cref="CheckpointAlreadyQuantizedException">The checkpoint is int8 already.</exception>
    public static void Quantize(Stream source, Stream destination)
    {
        var header = SafeTensorsHeader.Read(source);
        var metadata = SafeTensorsHeader.Metadata(header);
        if (metadata.GetValueOrDefault(CheckpointMetadata.QuantizationKey) == CheckpointMetadata.EightBitQuantization)
        {
            throw new CheckpointAlreadyQuantizedException("the checkpoint is int8 already");
        }

        if (!metadata.ContainsKey(CheckpointMetadata.ConfigKey))
        {
            throw new InvalidDataException($"only the product's own checkpoints (with {CheckpointMetadata.ConfigKey} metadata) can be quantized; load a GPT-2-layout file with quantize-on-load instead");
        }

        var tensors = ReadTensors(header, source);
        var output = new SortedDictionary<string, (string DType, long[] Shape, byte[] Bytes)>(StringComparer.Ordinal);
        var quantized = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (!QuantizedWeight().IsMatch(name))
            {
                output[name] = tensor;
                continue;
            }

            if (tensor.DType != "F32" || tensor.Shape.Length != 2)
            {
                throw new InvalidDataException($"tensor '{name}' is {tensor.DType} [{string.Join(", ", tensor.Shape)}]; quantizing needs an F32 matrix");
            }

            var (values, scales) = QuantizeRows(MemoryMarshal.Cast<byte, float>(tensor.Bytes.AsSpan()), (int)tensor.Shape[0], (int)tensor.Shape[1]);
            output[name] = ("I8", tensor.Shape, values);
            output[name[..^".weight".Length] + ".scale"] = ("F32", [tensor.Shape[0]], MemoryMarshal.AsBytes(scales.AsSpan()).ToArray());
            quantized++;
        }

        if (quantized == 0)
        {
            throw new InvalidDataException("the checkpoint has no weight to quantize (no wte.weight or h.N.*.weight matrices)");
        }

        metadata[CheckpointMetadata.QuantizationKey] = CheckpointMetadata.EightBitQuantization;
        Write(destination, output, metadata);
    }

    /// <summary>Symmetric per-row int8, computed in fp32 as libtorch does it.</summary>
    private static (byte[] Values, float[] Scales) QuantizeRows(ReadOnlySpan<float> weight, int rows, int columns)
    {
        var values = new byte[(long)rows * columns];
        var scales = new float[rows];
        for (var row = 0; row < rows; row++)
        {
            var slice = weight.Slice(row * columns, columns);
            var max = 0f;
            foreach (var value in slice)
            {
                max = MathF.Max(max, MathF.Abs(value));
            }

            var scale = MathF.Max(max / 127f, 1e-12f);
            scales[row] = scale;
            for (var column = 0; column < columns; column++)
            {
                values[(row * columns) + column] = unchecked((byte)(sbyte)Math.Clamp(MathF.Round(slice[column] / scale), -127f, 127f));
            }
        }

        return (values, scales);
    }

    private static SortedDictionary<string, (string DType, long[] Shape, byte[] Bytes)> ReadTensors(JsonObject header, Stream source)
    {
        var entries = header.Where(entry => entry.Key != SafeTensorsHeader.MetadataKey)
            .Select(entry =>
            {
                var offsets = entry.Value!["data_offsets"]!.AsArray();
                return (Name: entry.Key, DType: entry.Value!["dtype"]!.GetValue<string>(),
                    Shape: entry.Value!["shape"]!.AsArray().Select(size => size!.GetValue<long>()).ToArray(),
                    Start: offsets[0]!.GetValue<long>(), End: offsets[1]!.GetValue<long>());
            })
            .OrderBy(entry => entry.Start)
            .ToList();
        var tensors = new SortedDictionary<string, (string, long[], byte[])>(StringComparer.Ordinal);
        long position = 0;
        foreach (var entry in entries)
        {
            if (entry.Start < position || entry.End < entry.Start)
            {
                throw new InvalidDataException($"tensor '{entry.Name}' has a bad byte range");
            }

            source.ReadExactly(new byte[entry.Start - position]);
            var bytes = new byte[entry.End - entry.Start];
            source.ReadExactly(bytes);
            tensors[entry.Name] = (entry.DType, entry.Shape, bytes);
            position = entry.End;
        }

        return tensors;
    }

    /// <summary>Writes tensors in name order, as <c>SafeTensors.Write</c> does, so equal tensors give equal bytes.</summary>
    private static void Write(Stream destination, SortedDictionary<string, (string DType, long[] Shape, byte[] Bytes)> tensors, Dictionary<string, string> metadata)
    {
        var header = new JsonObject
        {
            [SafeTensorsHeader.MetadataKey] = new JsonObject(metadata.OrderBy(entry => entry.Key, StringComparer.Ordinal)
                .Select(entry => KeyValuePair.Create(entry.Key, (JsonNode?)JsonValue.Create(entry.Value)))),
        };
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            header[name] = new JsonObject
            {
                ["dtype"] = tensor.DType,
                ["shape"] = new JsonArray(tensor.Shape.Select(size => (JsonNode?)JsonValue.Create(size)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + tensor.Bytes.Length)),
            };
            offset += tensor.Bytes.Length;
        }

        SafeTensorsHeader.Write(destination, header);
        foreach (var tensor in tensors.Values)
        {
            destination.Write(tensor.Bytes);
        }
    }

    /// <summary>The weights the int8 model holds as int8: the token embedding and the blocks' linear layers.</summary>
    [GeneratedRegex(@"^(wte|h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj))\.weight$")]
    private static partial Regex QuantizedWeight();
}

/// <summary>The checkpoint asked to be quantized is int8 already.</summary>
public sealed class CheckpointAlreadyQuantizedException(string message) : InvalidOperationException(message);
