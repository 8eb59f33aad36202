using Microsoft.Extensions.Options;

namespace MsSwift.Training;

/// <summary>Which part of the training cluster this process plays.</summary>
public enum TrainingRole
{
    /// <summary>Runs jobs: the Train API, the coordinator and the parameter server.</summary>
    Coordinator,

    /// <summary>Computes gradients on its data shard for the parameter server.</summary>
    Worker,
}

public sealed class TrainingOptions
{
    public const string SectionName = "Training";

    public TrainingRole Role { get; set; } = TrainingRole.Coordinator;

    /// <summary>Coordinator: where job checkpoints go (the registry must read the same store).</summary>
    public string CheckpointDirectory { get; set; } = "";

    /// <summary>Coordinator: S3-compatible storage instead of <see cref="CheckpointDirectory"/>, when its bucket is set.</summary>
    public MsSwift.Modeling.Checkpoints.S3CheckpointStoreOptions CheckpointS3 { get; set; } = new();

    /// <summary>Coordinator: how long a step waits for the last workers once the first gradient arrived.</summary>
    public double StragglerTimeoutSeconds { get; set; } = 30;
}

internal sealed class TrainingOptionsValidator : IValidateOptions<TrainingOptions>
{
    public ValidateOptionsResult Validate(string? name, TrainingOptions options)
    {
        var section = TrainingOptions.SectionName;
        if (!Enum.IsDefined(options.Role))
        {
            return ValidateOptionsResult.Fail($"{section}:{nameof(TrainingOptions.Role)} must be one of {string.Join(", ", Enum.GetNames<TrainingRole>())}, got '{options.Role}'");
        }

        var failures = new List<string>();
        if (options.Role == TrainingRole.Coordinator
            && MsSwift.Modeling.Checkpoints.CheckpointStores.Problem(section, options.CheckpointDirectory, options.CheckpointS3) is { } problem)
        {
            failures.Add(problem);
        }

        if (options.StragglerTimeoutSeconds <= 0)
        {
            failures.Add($"{section}:StragglerTimeoutSeconds must be positive, got {options.StragglerTimeoutSeconds}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
