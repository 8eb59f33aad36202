using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.Training.Data;
using TorchSharp;

namespace MsSwift.Training.Jobs;

/// <summary>
/// The validation loss of a job's parameters. The coordinator reads the first eval_batches
/// batches of the dataset's validation windows once, then evaluates parameter snapshots on them
/// on its own model copy, one evaluation at a time and never on the step path: a step hands over
/// its (immutable) parameters and goes on.
/// </summary>
public sealed class JobEvaluator : IAsyncDisposable
{
    private readonly GptModel _model;
    private readonly List<TokenBatch> _batches;
    private Task _pending = Task.CompletedTask;
    private int _waiting; // evaluations queued behind the running one

    private JobEvaluator(GptConfig config, List<TokenBatch> batches)
    {
        _model = new GptModel(config);
        _model.to(TorchRuntime.Device);
        _batches = batches;
    }

    /// <summary>The job's evaluator, or null when the dataset has no whole validation window.</summary>
    public static async Task<JobEvaluator?> CreateAsync(DataService.DataServiceClient data, TrainRequest request, GptConfig config, CancellationToken cancellationToken)
    {
        var batches = await TrainingBatches.ValidationAsync(data, request, cancellationToken);
        return batches.Count == 0 ? null : new JobEvaluator(config, batches);
    }

    /// <summary>
    /// Evaluates <paramref name="parameters"/> after the evaluations already queued; null (skipped)
    /// when one is already waiting and this one is not <paramref name="required"/>. Evaluations
    /// slower than steps (a small eval_every, many eval_batches) thus hold at most two parameter
    /// snapshots, not one per step, and the last step's evaluation waits for at most two others.
    /// </summary>
    public Task<EvaluationResult>? EvaluateAsync(float[] parameters, bool required = false)
    {
        if (!required && Volatile.Read(ref _waiting) > 0)
        {
            return null;
        }

        Interlocked.Increment(ref _waiting);
        var evaluation = _pending.ContinueWith(_ =>
        {
            Interlocked.Decrement(ref _waiting);
            ParameterVector.Write(_model.parameters().ToArray(), parameters);
            return GptTrainer.Evaluate(_model, _batches);
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        _pending = evaluation;
        return evaluation;
    }

    public async ValueTask DisposeAsync()
    {
        // A failed evaluation was reported where it was awaited; here it only has to be over.
        await _pending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var batch in _batches)
        {
            batch.Dispose();
        }

        _model.Dispose();
    }
}
