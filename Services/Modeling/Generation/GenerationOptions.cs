namespace MsSwift.Modeling.Generation;

/// <summary>How one sequence is generated. Temperature 0 is greedy decoding.</summary>
public sealed record GenerationOptions
{
    public const int MaxNewTokensLimit = 4096;
    public const double MaxTemperature = 10;
    public const int MaxStopSequences = 8;
    public const int MaxStopSequenceLength = 256;

    /// <summary>
    /// Below this, a positive temperature samples as greedy (vLLM draws the same line): the limit
    /// of sampling as the temperature falls is argmax, and dividing by a smaller one (a subnormal
    /// such as 5e-324 is a valid double) would overflow the logits to infinity.
    /// </summary>
    public const double MinSamplingTemperature = 1e-4;

    /// <summary>Upper bound on generated tokens (1-4096).</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>0 = greedy (argmax); otherwise logits are divided by it before sampling (0-10; below 1e-4 counts as 0).</summary>
    public double Temperature { get; init; }

    /// <summary>Sample only among the k most likely tokens; 0 = no limit.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: the smallest set of tokens whose probability reaches p; 1 = no limit.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Generation ends when the generated text contains one of these; it is cut before it.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>Seeds sampling: the same seed, prompt and options give the same output.</summary>
    public long? Seed { get; init; }

    public bool IsGreedy => Temperature < MinSamplingTemperature;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public GenerationOptions Validate()
    {
        foreach (var (field, message) in Violations())
        {
            throw new ArgumentException($"{field} {message}", field);
        }

        return this;
    }

    /// <summary>Every invalid field (by property name) with what is wrong, for errors that list them all.</summary>
    public IEnumerable<(string Field, string Message)> Violations()
    {
        if (MaxNewTokens is < 1 or > MaxNewTokensLimit)
        {
            yield return (nameof(MaxNewTokens), $"must be between 1 and {MaxNewTokensLimit}, got {MaxNewTokens}");
        }

        if (Temperature is < 0 or > MaxTemperature || !double.IsFinite(Temperature))
        {
            yield return (nameof(Temperature), $"must be between 0 and {MaxTemperature}, got {Temperature}");
        }

        if (TopK < 0)
        {
            yield return (nameof(TopK), $"must be 0 (off) or positive, got {TopK}");
        }

        if (TopP is <= 0 or > 1 || double.IsNaN(TopP))
        {
            yield return (nameof(TopP), $"must be in (0, 1], got {TopP}");
        }

        if (StopSequences.Count > MaxStopSequences)
        {
            yield return (nameof(StopSequences), $"allows at most {MaxStopSequences} entries, got {StopSequences.Count}");
        }

        if (StopSequences.Any(string.IsNullOrEmpty))
        {
            yield return (nameof(StopSequences), "must not contain empty strings");
        }

        if (StopSequences.Any(stop => stop?.Length > MaxStopSequenceLength))
        {
            yield return (nameof(StopSequences), $"entries may be at most {MaxStopSequenceLength} characters long");
        }
    }
}
