using Microsoft.Extensions.Options;

namespace MsSwift.Registry;

/// <summary>Settings of section <c>Registry</c>.</summary>
public sealed class RegistryOptions
{
    public const string SectionName = "Registry";

    /// <summary>The shared checkpoint store's directory: registered checkpoints are read from it (size, SHA-256, config).</summary>
    public string CheckpointDirectory { get; set; } = "";
}

internal sealed class RegistryOptionsValidator : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options) =>
        string.IsNullOrWhiteSpace(options.CheckpointDirectory)
            ? ValidateOptionsResult.Fail($"{RegistryOptions.SectionName}:CheckpointDirectory is missing: set it to the checkpoint store's directory")
            : ValidateOptionsResult.Success;
}
