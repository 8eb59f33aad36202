namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// Checkpoints as files under one directory. A save writes a hidden temporary file beside the
/// target, flushes it to disk, then renames it over the target: rename is atomic on one file
/// system, so a crash leaves either the old checkpoint or the new one, never a torn one.
/// </summary>
public sealed class LocalDirectoryCheckpointStore : ICheckpointStore
{
    private const string TemporaryMarker = ".partial-";

    public LocalDirectoryCheckpointStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public async Task SaveAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        var path = PathOf(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}{TemporaryMarker}{Guid.NewGuid():N}");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                await write(stream, cancellationToken);
                await stream.FlushAsync(cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public Task<Stream> OpenReadAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = PathOf(name);
        try
        {
            return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointNotFoundException(name);
        }
    }

    public Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default) => Task.FromResult(File.Exists(PathOf(name)));

    public Task<IReadOnlyList<string>> ListAsync(string prefix = "", CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> names = Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
            .Where(path => !Path.GetFileName(path).Contains(TemporaryMarker, StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(Root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(names);
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        File.Delete(PathOf(name));
        return Task.CompletedTask;
    }

    /// <summary>Maps a checkpoint name to a path inside <see cref="Root"/>, refusing names that escape it.</summary>
    private string PathOf(string name) => Path.Combine([Root, .. CheckpointNames.Segments(name)]);
}
