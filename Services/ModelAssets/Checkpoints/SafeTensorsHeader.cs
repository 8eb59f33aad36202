using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// The head of a safetensors file: an 8-byte little-endian header length, then a JSON header
/// mapping each tensor name to its dtype, shape and byte range, plus an optional
/// <c>__metadata__</c> map of strings. Reading it needs no tensor library.
/// </summary>
public static class SafeTensorsHeader
{
    public const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes a header, padded with spaces so the tensor bytes start 8-byte aligned, as the reference writer does.</summary>
    public static void Write(Stream stream, JsonObject header)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        var padded = (json.Length + 7) / 8 * 8;
        Span<byte> length8 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length8, (ulong)padded);
        stream.Write(length8);
        stream.Write(json);
        for (var i = json.Length; i < padded; i++)
        {
            stream.WriteByte((byte)' ');
        }
    }

    /// <summary>
    /// Reads the header and leaves the stream at the first tensor byte. Every byte read is also
    /// passed to <paramref name="observe"/> (to hash the whole file while inspecting it).
    /// </summary>
    /// <exception cref="InvalidDataException">The stream does not start with a safetensors header.</exception>
    public static JsonObject Read(Stream stream, Action<ReadOnlySpan<byte>>? observe = null)
    {
        Span<byte> length8 = stackalloc byte[8];
        stream.ReadExactly(length8);
        observe?.Invoke(length8);
        var headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(length8);
        if (headerLength is <= 0 or > MaxHeaderBytes)
        {
            throw new InvalidDataException($"not a safetensors file: header length {headerLength}");
        }

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        observe?.Invoke(headerBytes);
        try
        {
            return JsonNode.Parse(headerBytes)?.AsObject() ?? throw new InvalidDataException("safetensors header is not a JSON object");
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"safetensors header is not valid JSON: {error.Message}", error);
        }
    }

    /// <summary>Reads the header's string metadata; see <see cref="Read"/>.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(Stream stream, Action<ReadOnlySpan<byte>>? observe = null) =>
        Metadata(Read(stream, observe));

    /// <summary>The string metadata of a header (empty when it has none).</summary>
    public static Dictionary<string, string> Metadata(JsonObject header) =>
        header[MetadataKey]?.AsObject().ToDictionary(entry => entry.Key, entry => entry.Value!.GetValue<string>()) ?? [];
}
