using Microsoft.Extensions.Options;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Contracts;

namespace MsSwift.Registry;

/// <summary>Settings of section <c>Registry</c>.</summary>
public sealed class RegistryOptions
{
    public const string SectionName = "Registry";

    /// <summary>The shared checkpoint store's directory: registered checkpoints are read from it (size, SHA-256, config).</summary>
    public string CheckpointDirectory { get; set; } = "";

    /// <summary>S3-compatible storage instead of <see cref="CheckpointDirectory"/>, when its bucket is set.</summary>
    public S3CheckpointStoreOptions CheckpointS3 { get; set; } = new();

    /// <summary>Models registered and promoted at start when they have no version yet.</summary>
    public List<Seeding.ModelSeedOptions> Seeds { get; set; } = [];
}

internal sealed class RegistryOptionsValidator : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options)
    {
        var failures = new List<string>();
        if (CheckpointStores.Problem(RegistryOptions.SectionName, options.CheckpointDirectory, options.CheckpointS3) is { } problem)
        {
            failures.Add(problem);
        }

        for (var i = 0; i < options.Seeds.Count; i++)
        {
            var seed = options.Seeds[i];
            var key = $"{RegistryOptions.SectionName}:Seeds:{i}";
            if (!ResourceNames.IsValid(seed.Model) || !ResourceNames.IsValid(seed.Version))
            {
                failures.Add($"{key}: Model and Version must be names ({ResourceNames.Rule}), got '{seed.Model}' and '{seed.Version}'");
            }

            if (!File.Exists(Path.Combine(seed.Directory, Seeding.ModelSeeder.CheckpointFile)))
            {
                failures.Add($"{key}:Directory must hold {Seeding.ModelSeeder.CheckpointFile}; '{seed.Directory}' does not");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
