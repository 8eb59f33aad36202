using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Data.Datasets;
using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Data.Tests;

// The cache in front of a store that can only stream whole objects (S3's shape).
public sealed class TokenFileCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("msswift-cache-").FullName;
    private readonly RemoteStore _store;

    public TokenFileCacheTests() => _store = new RemoteStore(new LocalDirectoryCheckpointStore(Path.Combine(_root, "store")));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_remote_file_is_downloaded_once_however_many_calls_read_it()
    {
        await SaveAsync("a.tokens", 1000);
        var cache = Cache(maxBytes: 1 << 20);

        var reads = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var file = await cache.OpenAsync("a.tokens", CancellationToken.None);
            return await file.ReadAsync(i * 10, 5, CancellationToken.None);
        }));

        Assert.Equal(1, _store.Opens);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => Enumerable.Range(i * 10, 5)), reads);
        Assert.Equal(4000, cache.CachedBytes);
    }

    [Fact]
    public async Task The_least_recently_used_file_makes_room_and_an_open_one_stays_readable()
    {
        await SaveAsync("a.tokens", 100);
        await SaveAsync("b.tokens", 100);
        await SaveAsync("c.tokens", 100);
        var cache = Cache(maxBytes: 900);

        using var a = await cache.OpenAsync("a.tokens", CancellationToken.None);
        (await cache.OpenAsync("b.tokens", CancellationToken.None)).Dispose();
        (await cache.OpenAsync("a.tokens", CancellationToken.None)).Dispose();
        // Only two files of 400 bytes fit: c evicts b, the least recently used.
        (await cache.OpenAsync("c.tokens", CancellationToken.None)).Dispose();
        (await cache.OpenAsync("a.tokens", CancellationToken.None)).Dispose();
        var opensBeforeB = _store.Opens;
        (await cache.OpenAsync("b.tokens", CancellationToken.None)).Dispose();

        Assert.Equal(3, opensBeforeB);
        Assert.Equal(4, _store.Opens);
        Assert.Equal(800, cache.CachedBytes);
        Assert.True(Directory.EnumerateFiles(Path.Combine(_root, "cache", "tokens")).Count() <= 2);
        // a was evicted by b's return while still open here: its data is still there to read.
        Assert.Equal(Enumerable.Range(90, 10), await a.ReadAsync(90, 10, CancellationToken.None));
    }

    [Fact]
    public async Task A_file_larger_than_the_whole_cache_is_refused_as_resource_exhausted_and_nothing_is_kept()
    {
        await SaveAsync("big.tokens", 300);
        var cache = Cache(maxBytes: 1000);

        var refused = await Assert.ThrowsAsync<ServiceException>(() => cache.OpenAsync("big.tokens", CancellationToken.None));

        Assert.Equal(ServiceError.ResourceExhausted, refused.Error);
        Assert.Contains("CacheMaxBytes", refused.Message);
        Assert.Equal(0, cache.CachedBytes);
        await Assert.ThrowsAsync<CheckpointNotFoundException>(() => cache.OpenAsync("missing.tokens", CancellationToken.None));
    }

    [Fact]
    public async Task A_directory_store_is_read_in_place_without_a_copy()
    {
        var local = new LocalDirectoryCheckpointStore(Path.Combine(_root, "local"));
        await local.SaveAsync("a.tokens", (stream, token) => WriteTokensAsync(stream, 50, token));
        var cache = new TokenFileCache(new Lazy<ICheckpointStore>(local), Options.Create(new DataOptions { CacheDirectory = Path.Combine(_root, "cache"), CacheMaxBytes = 1 }), NullLogger<TokenFileCache>.Instance);

        using var file = await cache.OpenAsync("a.tokens", CancellationToken.None);

        Assert.Equal(Enumerable.Range(10, 3), await file.ReadAsync(10, 3, CancellationToken.None));
        Assert.Equal(0, cache.CachedBytes);
        Assert.False(Directory.Exists(Path.Combine(_root, "cache")));
    }

    private TokenFileCache Cache(long maxBytes) =>
        new(new Lazy<ICheckpointStore>(_store), Options.Create(new DataOptions { CacheDirectory = Path.Combine(_root, "cache"), CacheMaxBytes = maxBytes }), NullLogger<TokenFileCache>.Instance);

    private Task SaveAsync(string name, int tokens) => _store.SaveAsync(name, (stream, token) => WriteTokensAsync(stream, tokens, token));

    private static async Task WriteTokensAsync(Stream stream, int count, CancellationToken cancellationToken)
    {
        var writer = new TokenWriter(stream, chunkTokens: 64);
        await writer.WriteAsync(Enumerable.Range(0, count).ToArray(), cancellationToken);
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>A store whose objects stream once, front to back, like S3's; counts the objects opened.</summary>
    private sealed class RemoteStore(LocalDirectoryCheckpointStore inner) : ICheckpointStore
    {
        private int _opens;

        public int Opens => _opens;

        public Task SaveAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default) => inner.SaveAsync(name, write, cancellationToken);

        public async Task<Stream> OpenReadAsync(string name, CancellationToken cancellationToken = default)
        {
            var stream = await inner.OpenReadAsync(name, cancellationToken);
            Interlocked.Increment(ref _opens);
            return new ForwardOnly(stream);
        }

        public Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default) => inner.ExistsAsync(name, cancellationToken);

        public Task<IReadOnlyList<string>> ListAsync(string prefix = "", CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public Task DeleteAsync(string name, CancellationToken cancellationToken = default) => inner.DeleteAsync(name, cancellationToken);
    }

    /// <summary>Readable front to back with a known length (S3's Content-Length), nothing else.</summary>
    private sealed class ForwardOnly(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
