using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Google.Protobuf;
using MsSwift.Contracts.Training.V1;
using WireFormat = MsSwift.Contracts.Training.V1.WireFormat;

namespace MsSwift.Training.ParameterServer;

/// <summary>
/// Flat fp32 vectors on the wire: encoded as fp16 (default, half the bytes), bf16 (fp32's range,
/// coarser mantissa) or fp32 (exact), split into chunks that stay well under gRPC's 4 MB message limit.
/// </summary>
public static class WireCodec
{
    /// <summary>Elements per chunk: 1 MiB of fp32, 512 KiB of fp16.</summary>
    public const int ChunkElements = 1 << 18;

    /// <summary>
    /// The HTTP/2 flow-control window both ends of the parameter-server wire open per stream. A
    /// pull or push is one stream of a whole vector; with the defaults (64 KiB for an HttpClient
    /// receiving, 768 KiB for Kestrel) the sender stops every window's worth for an update from the
    /// receiver, and each new stream starts small again.
    /// </summary>
    public const int Http2WindowBytes = 16 << 20;

    public static int BytesPerElement(WireFormat format) => format == WireFormat.Fp32 ? 4 : 2;

    /// <summary>The chunks of <paramref name="vector"/>; the first carries <paramref name="header"/> (its format and length are set here).</summary>
    public static IEnumerable<VectorChunk> Encode(float[] vector, VectorHeader header)
    {
        header.ElementCount = vector.Length;
        for (var offset = 0; offset == 0 || offset < vector.Length; offset += ChunkElements)
        {
            var count = Math.Min(ChunkElements, vector.Length - offset);
            yield return new VectorChunk
            {
                Header = offset == 0 ? header : null,
                Offset = offset,
                Data = UnsafeByteOperations.UnsafeWrap(EncodeElements(vector.AsSpan(offset, count), header.Format)),
            };
        }
    }

    /// <summary>
    /// Reassembles a vector from its chunks, header first and in order (gRPC keeps a stream's
    /// order); throws <see cref="InvalidDataException"/> for a malformed stream. The header is
    /// shown to <paramref name="expectedLength"/> before anything is allocated: it returns the
    /// length the vector must have (or throws to refuse the stream), so a header announcing more
    /// elements than its model has costs nothing.
    /// </summary>
    public static async Task<(VectorHeader Header, float[] Vector)> DecodeAsync(
        IAsyncEnumerable<VectorChunk> chunks, Func<VectorHeader, int> expectedLength, CancellationToken cancellationToken)
    {
        VectorHeader? header = null;
        float[]? vector = null;
        var received = 0;
        await foreach (var chunk in chunks.WithCancellation(cancellationToken))
        {
            if (chunk.Header is { } first)
            {
                if (header is not null)
                {
                    throw new InvalidDataException("the stream has two headers");
                }

                var expected = expectedLength(first);
                if (first.ElementCount != expected)
                {
                    throw new InvalidDataException($"the header announces {first.ElementCount} elements; {expected} are expected");
                }

                header = first;
                vector = new float[expected];
            }

            if (header is null || vector is null)
            {
                throw new InvalidDataException("the first chunk must carry the header");
            }

            // Contiguous and in order: every element is written once, and the stream cannot run past the vector.
            var width = BytesPerElement(header.Format);
            var count = chunk.Data.Length / width;
            if (chunk.Data.Length % width != 0 || chunk.Offset != received || count > vector.Length - received)
            {
                throw new InvalidDataException($"chunk at {chunk.Offset} with {chunk.Data.Length} bytes does not continue a vector of {vector.Length} {header.Format} elements at {received}");
            }

            DecodeElements(chunk.Data.Span, header.Format, vector.AsSpan(received, count));
            received += count;
        }

        if (header is null || vector is null || received != vector.Length)
        {
            throw new InvalidDataException($"the stream ended after {received} of {header?.ElementCount ?? 0} elements");
        }

        return (header, vector);
    }

    private static byte[] EncodeElements(ReadOnlySpan<float> values, WireFormat format)
    {
        if (format == WireFormat.Fp32)
        {
            return MemoryMarshal.AsBytes(values).ToArray();
        }

        var bytes = new byte[values.Length * 2];
        if (format == WireFormat.Fp16 && BitConverter.IsLittleEndian)
        {
            // Vectorised (F16C where the CPU has it): element by element, the conversion cost more than the transfer.
            TensorPrimitives.ConvertToHalf(values, MemoryMarshal.Cast<byte, Half>(bytes.AsSpan()));
            return bytes;
        }

        for (var i = 0; i < values.Length; i++)
        {
            var bits = format == WireFormat.Bf16 ? ToBFloat16(values[i]) : BitConverter.HalfToUInt16Bits((Half)values[i]);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), bits);
        }

        return bytes;
    }

    private static void DecodeElements(ReadOnlySpan<byte> bytes, WireFormat format, Span<float> target)
    {
        if (format == WireFormat.Fp32)
        {
            MemoryMarshal.Cast<byte, float>(bytes).CopyTo(target);
            return;
        }

        if (format == WireFormat.Fp16 && BitConverter.IsLittleEndian)
        {
            TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), target);
            return;
        }

        for (var i = 0; i < target.Length; i++)
        {
            var bits = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]);
            target[i] = format == WireFormat.Bf16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (float)BitConverter.UInt16BitsToHalf(bits);
        }
    }

    /// <summary>fp32 to bf16 with round-to-nearest-even (NaN stays NaN).</summary>
    private static ushort ToBFloat16(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        var bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(bits >> 16);
    }
}
