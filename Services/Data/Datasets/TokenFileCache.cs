using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Data.Datasets;

/// <summary>
/// Token files as local files that batches read by range. A store that keeps its blobs as local
/// files (the directory store) is read in place. From any other store (S3) a file is downloaded
/// once, whole, into <see cref="DataOptions.CacheDirectory"/> and then served from there: one GET
/// per file per replica instead of a GET per window, which would cost a round trip for each of
/// a batch's rows. The cache holds at most <see cref="DataOptions.CacheMaxBytes"/>; the least
/// recently used files make room. An evicted file that a call still has open stays readable
/// (Linux keeps an unlinked file until its last handle closes), so eviction never fails a call.
/// </summary>
public sealed partial class TokenFileCache(Lazy<ICheckpointStore> blobs, IOptions<DataOptions> options, ILogger<TokenFileCache> logger)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CachedFile> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> _downloads = new(StringComparer.Ordinal);
    private long _bytes;
    private long _clock;

    /// <summary>Bytes the cache holds or has reserved for downloads under way.</summary>
    public long CachedBytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Opens blob <paramref name="name"/> for range reads; the caller disposes it.</summary>
    /// <exception cref="CheckpointNotFoundException">The store has no such blob.</exception>
    /// <exception cref="ServiceException">ResourceExhausted: the file is larger than the whole cache.</exception>
    public async Task<TokenFile> OpenAsync(string name, CancellationToken cancellationToken)
    {
        if (blobs.Value is LocalDirectoryCheckpointStore)
        {
            var stream = await blobs.Value.OpenReadAsync(name, cancellationToken);
            if (stream is FileStream file)
            {
                return new TokenFile(file.SafeFileHandle, file);
            }

            await stream.DisposeAsync();
        }

        while (true)
        {
            Task download;
            lock (_lock)
            {
                if (_files.TryGetValue(name, out var cached))
                {
                    cached.LastUse = ++_clock;
                    // Opened under the lock, so eviction cannot delete the file between lookup and open.
                    return TokenFile.Open(cached.Path);
                }

                if (!_downloads.TryGetValue(name, out download!))
                {
                    // Not the caller's token: other calls may be waiting for the same download.
                    download = DownloadAsync(name);
                    _downloads[name] = download;
                }
            }

            await download.WaitAsync(cancellationToken);
        }
    }

    private async Task DownloadAsync(string name)
    {
        await Task.Yield();
        var directory = CacheDirectory();
        var path = Path.Combine(directory, $"{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..32]}.tokens");
        long reserved = 0;
        try
        {
            if (File.Exists(path))
            {
                // Left by an earlier run of this replica: files appear only by rename once complete, and a
                // name's content never changes (the version is the content hash), so it is still right.
                reserved = Reserve(name, new FileInfo(path).Length);
            }
            else
            {
                await using var source = await blobs.Value.OpenReadAsync(name, CancellationToken.None);
                reserved = Reserve(name, source.Length);
                var temporary = $"{path}.partial-{Guid.NewGuid():N}";
                try
                {
                    await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
                    {
                        await source.CopyToAsync(target, 1 << 20);
                    }

                    File.Move(temporary, path, overwrite: true);
                }
                finally
                {
                    File.Delete(temporary);
                }

                LogCached(logger, name, reserved, directory);
            }

            lock (_lock)
            {
                _files[name] = new CachedFile(path, reserved) { LastUse = ++_clock };
                reserved = 0;
            }
        }
        finally
        {
            lock (_lock)
            {
                _bytes -= reserved;
                _downloads.Remove(name);
            }
        }
    }

    /// <summary>Makes room for <paramref name="bytes"/> more by evicting the least recently used files, and counts them.</summary>
    private long Reserve(string name, long bytes)
    {
        var limit = options.Value.CacheMaxBytes;
        if (bytes > limit)
        {
            throw new ServiceException(ServiceError.ResourceExhausted,
                $"token file '{name}' is {bytes} bytes, more than the whole cache ({DataOptions.SectionName}:{nameof(DataOptions.CacheMaxBytes)} = {limit})");
        }

        lock (_lock)
        {
            while (_bytes + bytes > limit && _files.Count > 0)
            {
                var (oldest, file) = _files.MinBy(entry => entry.Value.LastUse);
                _files.Remove(oldest);
                _bytes -= file.Bytes;
                File.Delete(file.Path);
                LogEvicted(logger, oldest, file.Bytes);
            }

            // Downloads under way count too; when they alone fill the cache this one still goes
            // ahead (it fits by itself), and the bound is exceeded only until they are evicted.
            _bytes += bytes;
        }

        return bytes;
    }

    private string CacheDirectory() => Directory.CreateDirectory(Path.Combine(options.Value.CacheRoot, "tokens")).FullName;

    [LoggerMessage(Level = LogLevel.Information, Message = "Cached {Blob} ({Bytes} bytes) in {Directory}")]
    private static partial void LogCached(ILogger logger, string blob, long bytes, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Evicted {Blob} ({Bytes} bytes) from the token cache")]
    private static partial void LogEvicted(ILogger logger, string blob, long bytes);

    private sealed record CachedFile(string Path, long Bytes)
    {
        public long LastUse { get; set; }
    }
}
