namespace MsSwift.Modeling.Training;

public enum TrainingPrecision
{
    /// <summary>Forward, backward and optimizer in float32.</summary>
    Fp32,

    /// <summary>Forward and backward in bfloat16; fp32 master weights, gradients and optimizer state.</summary>
    Bf16Mixed,
}

/// <summary>Optimizer and schedule settings for <see cref="GptTrainer"/>.</summary>
public sealed record TrainingHyperparameters
{
    /// <summary>Peak learning rate, reached at the end of warmup.</summary>
    public double LearningRate { get; init; } = 3e-4;

    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public double MinLearningRate { get; init; } = 3e-5;

    /// <summary>Linear warmup from 0 over this many optimizer steps.</summary>
    public int WarmupSteps { get; init; } = 100;

    /// <summary>Steps over which the learning rate decays (cosine) to <see cref="MinLearningRate"/>; it stays there after.</summary>
    public int TotalSteps { get; init; } = 1000;

    /// <summary>Decoupled weight decay, applied to matrices and embeddings only (not biases or LayerNorm).</summary>
    public double WeightDecay { get; init; } = 0.1;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.95;

    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Global gradient-norm clip; 0 = off.</summary>
    public double GradientClipNorm { get; init; } = 1.0;

    /// <summary>Micro-batches whose gradients are summed into one optimizer step.</summary>
    public int AccumulationSteps { get; init; } = 1;

    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Fp32;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public TrainingHyperparameters Validate()
    {
        Require(LearningRate is > 0 and <= 1, nameof(LearningRate), $"must be in (0, 1], got {LearningRate}");
        Require(MinLearningRate >= 0 && MinLearningRate <= LearningRate, nameof(MinLearningRate), $"must be between 0 and LearningRate ({LearningRate}), got {MinLearningRate}");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), $"must not be negative, got {WarmupSteps}");
        Require(TotalSteps >= 1 && TotalSteps >= WarmupSteps, nameof(TotalSteps), $"must be at least 1 and at least WarmupSteps ({WarmupSteps}), got {TotalSteps}");
        Require(WeightDecay is >= 0 and < 1, nameof(WeightDecay), $"must be in [0, 1), got {WeightDecay}");
        Require(Beta1 is >= 0 and < 1, nameof(Beta1), $"must be in [0, 1), got {Beta1}");
        Require(Beta2 is >= 0 and < 1, nameof(Beta2), $"must be in [0, 1), got {Beta2}");
        Require(Epsilon > 0, nameof(Epsilon), $"must be positive, got {Epsilon}");
        Require(GradientClipNorm >= 0, nameof(GradientClipNorm), $"must be 0 (off) or positive, got {GradientClipNorm}");
        Require(AccumulationSteps is >= 1 and <= 1024, nameof(AccumulationSteps), $"must be between 1 and 1024, got {AccumulationSteps}");
        Require(Enum.IsDefined(Precision), nameof(Precision), $"must be one of {string.Join(", ", Enum.GetNames<TrainingPrecision>())}, got {Precision}");
        return this;
    }

    /// <summary>Warmup then cosine decay, as a function of the optimizer step about to be taken (0-based).</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps)
        {
            return LearningRate * (step + 1) / WarmupSteps;
        }

        if (step >= TotalSteps)
        {
            return MinLearningRate;
        }

        var progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return MinLearningRate + 0.5 * (LearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * progress));
    }

    private static void Require(bool condition, string field, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"{field} {message}", field);
        }
    }
}
