using MsSwift.Contracts.Training.V1;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Tests;

public sealed class WireCodecTests
{
    private static readonly float[] Vector = Enumerable.Range(0, WireCodec.ChunkElements * 2 + 5)
        .Select(i => (float)(Math.Sin(i * 0.37) * Math.Pow(10, i % 7 - 4))).ToArray();

    [Theory]
    [InlineData(WireFormat.Fp32, 0.0)]
    [InlineData(WireFormat.Fp16, 1.0 / 2048)]
    [InlineData(WireFormat.Bf16, 1.0 / 256)]
    public async Task A_vector_survives_chunking_within_its_formats_precision(WireFormat format, double relativeError)
    {
        var chunks = WireCodec.Encode(Vector, new VectorHeader { Format = format, Version = 3 }).ToList();

        var (header, decoded) = await WireCodec.DecodeAsync(chunks.ToAsyncEnumerable(), _ => Vector.Length, CancellationToken.None);

        Assert.Equal(3, chunks.Count);
        Assert.Equal(Vector.Length * WireCodec.BytesPerElement(format), chunks.Sum(chunk => chunk.Data.Length));
        Assert.Equal(3, header.Version);
        for (var i = 0; i < Vector.Length; i++)
        {
            // fp16 has no normal numbers below 6e-5: compare those absolutely.
            var tolerance = Math.Max(Math.Abs(Vector[i]) * relativeError, format == WireFormat.Fp16 ? 6e-8 : 0);
            Assert.True(Math.Abs(decoded[i] - Vector[i]) <= tolerance, $"element {i}: {Vector[i]} came back as {decoded[i]} in {format}");
        }
    }

    [Fact]
    public async Task Fp16_rounds_every_element_as_an_IEEE_half_cast_does()
    {
        // The fp16 path converts whole spans at once; it must agree bit for bit with the scalar cast,
        // overflow, subnormals, signed zero and NaN included.
        float[] vector = [.. Vector, 65504f, 65520f, 1e6f, -1e6f, 5.96e-8f, 2.9e-8f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity];
        var chunks = WireCodec.Encode(vector, new VectorHeader { Format = WireFormat.Fp16 }).ToList();

        var (_, decoded) = await WireCodec.DecodeAsync(chunks.ToAsyncEnumerable(), _ => vector.Length, CancellationToken.None);

        for (var i = 0; i < vector.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits((float)(Half)vector[i]), BitConverter.SingleToInt32Bits(decoded[i]));
        }
    }

    [Fact]
    public async Task Malformed_streams_are_refused()
    {
        var chunks = WireCodec.Encode([1f, 2f, 3f], new VectorHeader { Format = WireFormat.Fp32 }).ToList();
        var headless = new VectorChunk { Offset = 0, Data = chunks[0].Data };
        var overflowing = chunks[0].Clone();
        overflowing.Offset = 2;
        var repeated = chunks[0].Clone();
        repeated.Header = null;

        await Assert.ThrowsAsync<InvalidDataException>(() => Decode(headless));
        await Assert.ThrowsAsync<InvalidDataException>(() => Decode(overflowing));
        await Assert.ThrowsAsync<InvalidDataException>(() => Decode());
        // The same elements again: a stream may not run past the vector or write an element twice.
        await Assert.ThrowsAsync<InvalidDataException>(() => Decode(chunks[0], repeated));
        var longer = chunks[0].Clone();
        longer.Header.ElementCount = 1L << 40;
        var announced = await Assert.ThrowsAsync<InvalidDataException>(() => Decode(longer));
        Assert.Equal("the header announces 1099511627776 elements; 3 are expected", announced.Message);
    }

    private static Task<(VectorHeader Header, float[] Vector)> Decode(params VectorChunk[] chunks) =>
        WireCodec.DecodeAsync(chunks.ToAsyncEnumerable(), _ => 3, CancellationToken.None);
}
