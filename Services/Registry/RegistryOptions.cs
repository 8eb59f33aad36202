using Microsoft.Extensions.Options;
using MsSwift.Modeling.Checkpoints;

namespace MsSwift.Registry;

/// <summary>Settings of section <c>Registry</c>.</summary>
public sealed class RegistryOptions
{
    public const string SectionName = "Registry";

    /// <summary>The shared checkpoint store's directory: registered checkpoints are read from it (size, SHA-256, config).</summary>
    public string CheckpointDirectory { get; set; } = "";

    /// <summary>S3-compatible storage instead of <see cref="CheckpointDirectory"/>, when its bucket is set.</summary>
    public S3CheckpointStoreOptions CheckpointS3 { get; set; } = new();
}

internal sealed class RegistryOptionsValidator : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options) =>
        CheckpointStores.Problem(RegistryOptions.SectionName, options.CheckpointDirectory, options.CheckpointS3) is { } problem
            ? ValidateOptionsResult.Fail(problem)
            : ValidateOptionsResult.Success;
}
