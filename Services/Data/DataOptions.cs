using Microsoft.Extensions.Options;
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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
