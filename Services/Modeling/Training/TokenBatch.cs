using static TorchSharp.torch;

namespace MsSwift.Modeling.Training;

/// <summary>Inputs and next-token targets, both int64 [batch, steps]: targets are inputs shifted by one.</summary>
public sealed record TokenBatch(Tensor Inputs, Tensor Targets) : IDisposable
{
    public long TokenCount => Targets.NumberOfElements;

    /// <summary>Splits [batch, steps + 1] token windows into inputs (all but the last) and targets (all but the first).</summary>
    public static TokenBatch FromWindows(Tensor windows)
    {
        var steps = windows.shape[1] - 1;
        var batch = new TokenBatch(windows.narrow(1, 0, steps), windows.narrow(1, 1, steps));
        // Callers pass temporaries: without this, optimised code may finalise `windows` (freeing
        // its native handle) while the second narrow still runs on it.
        GC.KeepAlive(windows);
        return batch;
    }

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>What one optimizer step did.</summary>
public sealed record TrainStepResult(int Step, double Loss, double GradientNorm, double LearningRate, long Tokens);

/// <summary>Mean next-token loss (nats per token) and its perplexity.</summary>
public sealed record EvaluationResult(double Loss, double Perplexity, long Tokens);
