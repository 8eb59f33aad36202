using Microsoft.Win32.SafeHandles;

namespace MsSwift.Data.Datasets;

/// <summary>
/// A token stream on local disk (little-endian int32, as ingest writes it), read by position:
/// a batch costs one read per window, never the whole file, and offsets are 64-bit so a stream
/// past 2^31 tokens (8 GiB) reads like any other. Positional reads keep no cursor, so one open
/// file may serve concurrent calls.
/// </summary>
public sealed class TokenFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly IDisposable _owner;

    /// <param name="handle">The open file.</param>
    /// <param name="owner">What closes it (the handle itself, or the stream it came from).</param>
    public TokenFile(SafeFileHandle handle, IDisposable owner)
    {
        _handle = handle;
        _owner = owner;
        var bytes = RandomAccess.GetLength(handle);
        if (bytes % sizeof(int) != 0)
        {
            throw new InvalidDataException($"a token file holds whole int32 tokens; this one has {bytes} bytes");
        }

        Count = bytes / sizeof(int);
    }

    public static TokenFile Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous | FileOptions.RandomAccess);
        return new TokenFile(handle, handle);
    }

    /// <summary>Tokens in the file.</summary>
    public long Count { get; }

    /// <summary>Tokens <paramref name="first"/> .. first + count - 1.</summary>
    public async ValueTask<int[]> ReadAsync(long first, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (first > Count - count)
        {
            throw new ArgumentOutOfRangeException(nameof(first), $"tokens {first}..{first + count} lie past the end ({Count} tokens)");
        }

        var bytes = new byte[(long)count * sizeof(int)];
        var offset = first * sizeof(int);
        for (var read = 0; read < bytes.Length;)
        {
            var got = await RandomAccess.ReadAsync(_handle, bytes.AsMemory(read), offset + read, cancellationToken);
            if (got == 0)
            {
                throw new EndOfStreamException($"the token file ended at byte {offset + read} while {Count} tokens were expected");
            }

            read += got;
        }

        var tokens = new int[count];
        Buffer.BlockCopy(bytes, 0, tokens, 0, bytes.Length);
        return tokens;
    }

    public void Dispose() => _owner.Dispose();
}
