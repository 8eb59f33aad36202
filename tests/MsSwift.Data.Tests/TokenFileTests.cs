using MsSwift.Data.Datasets;

namespace MsSwift.Data.Tests;

public sealed class TokenFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("msswift-tokens-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Ranges_at_any_offset_read_exactly_those_tokens_and_past_the_end_is_refused()
    {
        var tokens = Enumerable.Range(0, 1001).Select(i => i * 7919 - 3_000_000).ToArray();
        var path = await WriteAsync("t.tokens", tokens);
        using var file = TokenFile.Open(path);

        Assert.Equal(1001, file.Count);
        foreach (var (first, count) in new[] { (0L, 1), (1L, 33), (511L, 65), (936L, 65), (1000L, 1), (17L, 0) })
        {
            Assert.Equal(tokens.Skip((int)first).Take(count), await file.ReadAsync(first, count, CancellationToken.None));
        }

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => file.ReadAsync(937, 65, CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => file.ReadAsync(-1, 2, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task Offsets_past_two_to_the_31_tokens_read_correctly()
    {
        // A sparse file of 2^31 + 100 tokens (8 GiB on paper, a few KB on disk).
        const long count = (1L << 31) + 100;
        var path = Path.Combine(_directory, "big.tokens");
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            stream.SetLength(count * sizeof(int));
            stream.Position = (count - 10) * sizeof(int);
            var writer = new TokenWriter(stream, chunkTokens: 4);
            await writer.WriteAsync([1, 2, 3, int.MaxValue, -5], CancellationToken.None);
            await writer.FlushAsync(CancellationToken.None);
            stream.Position = (1L << 31) * sizeof(int);
            await writer.WriteAsync([7, 8], CancellationToken.None);
            await writer.FlushAsync(CancellationToken.None);
        }

        using var file = TokenFile.Open(path);
        var nearTheEnd = await file.ReadAsync(count - 10, 5, CancellationToken.None);

        Assert.Equal(count, file.Count);
        Assert.Equal([1, 2, 3, int.MaxValue, -5], nearTheEnd);
        var pastTheLine = await file.ReadAsync(1L << 31, 2, CancellationToken.None);
        Assert.Equal([7, 8], pastTheLine);
    }

    [Fact]
    public async Task A_file_that_is_not_whole_tokens_is_refused()
    {
        var path = Path.Combine(_directory, "torn.tokens");
        await File.WriteAllBytesAsync(path, [1, 2, 3, 4, 5, 6]);

        Assert.Throws<InvalidDataException>(() => TokenFile.Open(path));
    }

    private async Task<string> WriteAsync(string name, int[] tokens)
    {
        var path = Path.Combine(_directory, name);
        await using var stream = File.Create(path);
        var writer = new TokenWriter(stream, chunkTokens: 3);
        await writer.WriteAsync(tokens, CancellationToken.None);
        await writer.FlushAsync(CancellationToken.None);
        return path;
    }
}
