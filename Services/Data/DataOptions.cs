using Microsoft.Extensions.Options;
using MsSwift.Data.Datasets;
using MsSwift.Modeling.Checkpoints;

namespace MsSwift.Data;

/// <summary>Settings of section <c>Data</c>.</summary>
public sealed class DataOptions
{
    public const string SectionName = "Data";

    /// <summary>Where token streams are stored (the shared checkpoint store's directory works).</summary>
    public string StorageDirectory { get; set; } = "";

    /// <summary>S3-compatible storage instead of <see cref="StorageDirectory"/>, when its bucket is set.</summary>
    public S3CheckpointStoreOptions StorageS3 { get; set; } = new();

    /// <summary>Directories a dataset may be ingested from by path; anything else is refused.</summary>
    public List<string> AllowedPaths { get; set; } = [];

    /// <summary>Largest upload accepted, in bytes (default 1 GiB).</summary>
    public long MaxUploadBytes { get; set; } = 1L << 30;

    /// <summary>
    /// This replica's local scratch directory: token files downloaded from S3 for serving (a
    /// directory store is read in place and needs none), and ingest's staging files. Empty:
    /// <c>msswift-data-cache</c> under the temporary directory. Give each replica its own (in
    /// Kubernetes an emptyDir), with room for the cache and for one ingest's token files.
    /// </summary>
    public string CacheDirectory { get; set; } = "";

    /// <summary>
    /// Most bytes of downloaded token files kept in <see cref="CacheDirectory"/> (default 4 GiB,
    /// half the 8 GiB temporary volume the Kubernetes manifests give a data pod, leaving the rest
    /// to ingest's staging); the least recently used go first.
    /// </summary>
    public long CacheMaxBytes { get; set; } = 4L << 30;

    /// <summary>Tokens ingest buffers per split before writing them out (default 1 Mi tokens, 4 MiB): ingest memory does not grow with the dataset.</summary>
    public int IngestChunkTokens { get; set; } = 1 << 20;

    /// <summary><see cref="CacheDirectory"/>, or its default when empty.</summary>
    public string CacheRoot => CacheDirectory.Length > 0 ? CacheDirectory : Path.Combine(Path.GetTempPath(), "msswift-data-cache");
}

internal sealed class DataOptionsValidator : IValidateOptions<DataOptions>
{
    public ValidateOptionsResult Validate(string? name, DataOptions options)
    {
        var failures = new List<string>();
        if (CheckpointStores.Problem(DataOptions.SectionName, options.StorageDirectory, options.StorageS3, nameof(options.StorageDirectory), nameof(options.StorageS3)) is { } problem)
        {
            failures.Add(problem);
        }

        if (options.MaxUploadBytes < 1)
        {
            failures.Add($"{DataOptions.SectionName}:MaxUploadBytes must be positive, got {options.MaxUploadBytes}");
        }

        if (options.CacheMaxBytes < 1)
        {
            failures.Add($"{DataOptions.SectionName}:CacheMaxBytes must be positive, got {options.CacheMaxBytes}");
        }

        if (options.IngestChunkTokens is < 1 or > TokenWriter.MaxChunkTokens)
        {
            failures.Add($"{DataOptions.SectionName}:IngestChunkTokens must be from 1 to {TokenWriter.MaxChunkTokens}, got {options.IngestChunkTokens}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
