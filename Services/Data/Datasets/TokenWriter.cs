using System.Buffers.Binary;

namespace MsSwift.Data.Datasets;

/// <summary>
/// Writes a token stream (little-endian int32, whatever the machine) to a stream in chunks of a
/// fixed number of tokens, so ingest holds one chunk per split however large the dataset is.
/// </summary>
public sealed class TokenWriter(Stream stream, int chunkTokens)
{
    /// <summary>The largest chunk: its bytes fit one array with room to spare.</summary>
    public const int MaxChunkTokens = 1 << 28;

    private readonly byte[] _chunk = new byte[checked(Math.Clamp(chunkTokens, 1, MaxChunkTokens) * sizeof(int))];
    private int _filled;

    /// <summary>Tokens written so far (64-bit: a split may pass 2^31 tokens).</summary>
    public long Count { get; private set; }

    public async ValueTask WriteAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken)
    {
        foreach (var token in tokens)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_chunk.AsSpan(_filled), token);
            _filled += sizeof(int);
            if (_filled == _chunk.Length)
            {
                await FlushAsync(cancellationToken);
            }
        }

        Count += tokens.Count;
    }

    /// <summary>Writes out the partial chunk; call once at the end.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_filled > 0)
        {
            await stream.WriteAsync(_chunk.AsMemory(0, _filled), cancellationToken);
            _filled = 0;
        }
    }
}
