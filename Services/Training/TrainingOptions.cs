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

    /// <summary>Coordinator: the largest model a Train request may ask for, in parameters (GPT-2 small has 124M).</summary>
    public long MaxModelParameters { get; set; } = 150_000_000;

    /// <summary>Coordinator: the most memory one job may need in its largest process, as <see cref="Jobs.JobBudget"/> estimates it.</summary>
    public long MaxJobMemoryMiB { get; set; } = 8192;

    /// <summary>Coordinator: jobs it runs at once; a Train request beyond them gets ResourceExhausted.</summary>
    public int MaxConcurrentJobs { get; set; } = 4;

    /// <summary>Coordinator: the URL workers dial to reach its parameter servers (empty: its gRPC endpoint; see <see cref="Jobs.AdvertisedAddress"/>).</summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>
    /// Coordinator: checkpoints kept per job, the newest by step; older ones are deleted once a newer
    /// one is committed (<see cref="ParameterServer.CheckpointRetention"/>). 0 keeps every checkpoint.
    /// </summary>
    public int KeepCheckpoints { get; set; } = 3;
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

        if (options.MaxModelParameters < 1)
        {
            failures.Add($"{section}:{nameof(TrainingOptions.MaxModelParameters)} must be at least 1, got {options.MaxModelParameters}");
        }

        if (options.MaxJobMemoryMiB < 1)
        {
            failures.Add($"{section}:{nameof(TrainingOptions.MaxJobMemoryMiB)} must be at least 1, got {options.MaxJobMemoryMiB}");
        }

        if (options.MaxConcurrentJobs is < 1 or > 1000)
        {
            failures.Add($"{section}:{nameof(TrainingOptions.MaxConcurrentJobs)} must be between 1 and 1000, got {options.MaxConcurrentJobs}");
        }

        if (options.AdvertisedAddress.Length > 0
            && !(Uri.TryCreate(options.AdvertisedAddress, UriKind.Absolute, out var advertised) && advertised.Scheme is "http" or "https"))
        {
            failures.Add($"{section}:{nameof(TrainingOptions.AdvertisedAddress)} must be an absolute http(s) URL such as http://10.0.0.5:8081, got '{options.AdvertisedAddress}'");
        }

        if (options.KeepCheckpoints < 0)
        {
            failures.Add($"{section}:{nameof(TrainingOptions.KeepCheckpoints)} must be 0 (keep every checkpoint) or the number of newest checkpoints to keep per job, got {options.KeepCheckpoints}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
