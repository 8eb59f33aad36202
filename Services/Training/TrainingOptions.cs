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
}

internal sealed class TrainingOptionsValidator : IValidateOptions<TrainingOptions>
{
    public ValidateOptionsResult Validate(string? name, TrainingOptions options) =>
        Enum.IsDefined(options.Role)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{TrainingOptions.SectionName}:{nameof(TrainingOptions.Role)} must be one of {string.Join(", ", Enum.GetNames<TrainingRole>())}, got '{options.Role}'");
}
