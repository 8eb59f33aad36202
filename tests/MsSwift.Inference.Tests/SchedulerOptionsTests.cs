namespace MsSwift.Inference.Tests;

/// <summary>The scheduler's settings are refused at start with the key named.</summary>
public sealed class SchedulerOptionsTests
{
    private static InferenceOptions Valid() => new() { CheckpointDirectory = "/tmp/checkpoints" };

    [Fact]
    public void The_defaults_are_valid()
    {
        var options = Valid();
        options.LatencyTargets["demo"] = new LatencyTargetOptions { MaxTimeToFirstTokenMs = 500, TargetInterTokenLatencyMs = 50 };

        Assert.True(new InferenceOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void An_unknown_scheduler_is_refused_naming_the_key()
    {
        var options = Valid();
        options.Scheduler = "greedy";

        var result = new InferenceOptionsValidator().Validate(null, options);

        Assert.Contains("Inference:Scheduler must be 'adaptive' or 'fixed'", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_target_and_a_target_for_the_fixed_scheduler_are_refused_naming_the_key()
    {
        var options = Valid();
        options.LatencyTargets["demo"] = new LatencyTargetOptions { TargetInterTokenLatencyMs = -1 };
        options.LatencyTargets["tiny"] = new LatencyTargetOptions { MaxTimeToFirstTokenMs = 100 };
        options.Scheduler = "fixed";

        var result = new InferenceOptionsValidator().Validate(null, options);

        Assert.Contains("Inference:LatencyTargets:demo:TargetInterTokenLatencyMs must be between 0 (none) and 600000, got -1", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Inference:LatencyTargets:tiny needs Inference:Scheduler 'adaptive'", result.FailureMessage, StringComparison.Ordinal);
    }
}
