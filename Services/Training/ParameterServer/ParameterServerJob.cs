using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using WireFormat = MsSwift.Contracts.Training.V1.WireFormat;

namespace MsSwift.Training.ParameterServer;

/// <summary>How a job's parameter server runs its synchronous steps.</summary>
/// <param name="Format">How parameters and gradients are encoded on the wire.</param>
/// <param name="MinimumWorkers">The first step waits until this many workers have joined.</param>
/// <param name="StragglerTimeout">How long a step waits for the last workers once the first gradient arrived.</param>
/// <param name="TokensPerGradient">The tokens each worker's gradient must cover (its batches and accumulation); 0 accepts any.</param>
public sealed record ParameterServerSettings(WireFormat Format, int MinimumWorkers, TimeSpan StragglerTimeout, long TokensPerGradient = 0);

/// <summary>What a step did, as every worker that took part is told; with the new parameters (an immutable snapshot) for evaluation.</summary>
public sealed record StepOutcome(long Version, double Loss, int Workers, IReadOnlyList<string> Dropped, long Tokens, float[] Parameters);

public sealed class StaleStepException(string message) : Exception(message);

/// <summary>
/// One job's parameter server: fp32 master weights and AdamW state (a <see cref="GptTrainer"/>),
/// and the synchronous step. Step t completes when every active worker pushed its gradient for
/// t (and at least <see cref="ParameterServerSettings.MinimumWorkers"/> joined): the gradients are
/// averaged, the optimizer applies them, and the version becomes t + 1. A worker that has not
/// pushed <see cref="ParameterServerSettings.StragglerTimeout"/> after the first gradient of the
/// step is dropped from the step and from the active set; it must join again.
/// </summary>
public sealed class ParameterServerJob : IDisposable
{
    private readonly GptTrainer _trainer;
    private readonly Lock _gate = new();
    private readonly HashSet<string> _active = [];
    private readonly Dictionary<string, (float[] Gradient, double Loss, long Tokens)> _pending = [];
    private TaskCompletionSource<StepOutcome> _step = NewStep();
    private CancellationTokenSource? _stragglerTimer;
    private float[] _parameters;

    /// <param name="jobId">The job.</param>
    /// <param name="model">The fp32 master weights (owned from here on).</param>
    /// <param name="hyperparameters">Optimizer and schedule.</param>
    /// <param name="settings">Wire format, workers and straggler timeout.</param>
    /// <param name="resume">Optimizer state and version from a checkpoint, to continue a job exactly.</param>
    public ParameterServerJob(string jobId, GptModel model, TrainingHyperparameters hyperparameters, ParameterServerSettings settings, (Stream OptimizerState, long Version)? resume = null)
    {
        JobId = jobId;
        Settings = settings;
        _trainer = new GptTrainer(model, hyperparameters);
        if (resume is { } state)
        {
            _trainer.RestoreState(state.OptimizerState, (int)state.Version);
            Version = state.Version;
        }

        _parameters = ParameterVector.Read(model.parameters().ToArray());
    }

    /// <summary>Writes the model and optimizer state of the current version under <paramref name="prefix"/>; returns that version.</summary>
    public async Task<long> SaveCheckpointAsync(ICheckpointStore store, string prefix, CancellationToken cancellationToken)
    {
        // One consistent version: a step replaces _parameters (never mutates it) under this lock.
        MemoryStream optimizer = new();
        long version;
        float[] parameters;
        lock (_gate)
        {
            version = Version;
            parameters = _parameters;
            _trainer.SaveOptimizerState(optimizer);
        }

        using var snapshot = new GptModel(_trainer.Model.Config);
        ParameterVector.Write(snapshot.parameters().ToArray(), parameters);
        await GptCheckpoint.SaveAsync(store, ModelFile(prefix), snapshot, TokenizerId, cancellationToken);
        optimizer.Position = 0;
        await store.SaveAsync($"{prefix}/optimizer.bin", (stream, token) => optimizer.CopyToAsync(stream, token), cancellationToken);
        return version;
    }

    /// <summary>The model file of the checkpoint under <paramref name="prefix"/> (what the registry registers).</summary>
    public static string ModelFile(string prefix) => $"{prefix}/model.safetensors";

    /// <summary>The tokenizer recorded in checkpoints: the dataset's, so the registered model decodes with it.</summary>
    public string TokenizerId { get; init; } = "byte";

    public string JobId { get; }

    public ParameterServerSettings Settings { get; }

    /// <summary>Optimizer steps applied so far; a worker's next gradient is for this step.</summary>
    public long Version { get; private set; }

    public int ParameterCount => _parameters.Length;

    /// <summary>Raised after each step (for status streams, checkpoints and metrics).</summary>
    public event Action<StepOutcome>? StepApplied;

    public JoinResponse Join(string workerId)
    {
        lock (_gate)
        {
            _active.Add(workerId);
            return new JoinResponse { Step = Version, Version = Version, Format = Settings.Format, ParameterCount = _parameters.Length };
        }
    }

    /// <summary>The current parameters and their version (an immutable snapshot).</summary>
    public (long Version, float[] Parameters) Snapshot()
    {
        lock (_gate)
        {
            return (Version, _parameters);
        }
    }

    /// <summary>Adds a worker's gradient for <paramref name="step"/> and waits until the step is applied.</summary>
    public Task<StepOutcome> SubmitAsync(string workerId, long step, float[] gradient, double loss, long tokens, CancellationToken cancellationToken)
    {
        Task<StepOutcome> applied;
        lock (_gate)
        {
            if (step != Version)
            {
                throw new StaleStepException($"gradient for step {step}, but the job is at step {Version}: pull the parameters and compute again");
            }

            if (!_active.Contains(workerId))
            {
                throw new StaleStepException($"worker '{workerId}' is not active in job '{JobId}' (dropped as a straggler?): join again");
            }

            if (gradient.Length != _parameters.Length)
            {
                throw new ArgumentException($"the gradient has {gradient.Length} elements; the model has {_parameters.Length}", nameof(gradient));
            }

            if (Settings.TokensPerGradient > 0 && tokens != Settings.TokensPerGradient)
            {
                throw new ArgumentException($"the gradient covers {tokens} tokens; job '{JobId}' takes {Settings.TokensPerGradient} per worker and step (batch size x window x accumulation steps)", nameof(tokens));
            }

            _pending[workerId] = (gradient, loss, tokens);
            applied = _step.Task;
            if (_pending.Count == 1)
            {
                StartStragglerTimer(step);
            }

            // The minimum holds back the first step only: afterwards membership is elastic.
            if (_pending.Count >= _active.Count && (_active.Count >= Settings.MinimumWorkers || Version > 0))
            {
                Apply([]);
            }
        }

        return applied.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stragglerTimer?.Cancel();
            _stragglerTimer?.Dispose();
            _stragglerTimer = null;
            _step.TrySetException(new ObjectDisposedException(nameof(ParameterServerJob), $"job '{JobId}' stopped"));
        }

        _trainer.Dispose();
    }

    private void StartStragglerTimer(long step)
    {
        _stragglerTimer?.Cancel();
        _stragglerTimer?.Dispose();
        var timer = _stragglerTimer = new CancellationTokenSource();
        var token = timer.Token;
        _ = Task.Delay(Settings.StragglerTimeout, token).ContinueWith(_ =>
        {
            lock (_gate)
            {
                if (Version != step || _pending.Count == 0)
                {
                    return;
                }

                var dropped = _active.Where(worker => !_pending.ContainsKey(worker)).Order(StringComparer.Ordinal).ToList();
                _active.ExceptWith(dropped);
                Apply(dropped);
            }
        }, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    /// <summary>Averages the pending gradients, steps the optimizer, publishes the new version. Called under the lock.</summary>
    private void Apply(List<string> dropped)
    {
        _stragglerTimer?.Cancel();
        var contributions = _pending.Values.ToList();
        var average = new float[_parameters.Length];
        foreach (var (gradient, _, _) in contributions)
        {
            for (var i = 0; i < average.Length; i++)
            {
                average[i] += gradient[i];
            }
        }

        var scale = 1f / contributions.Count;
        for (var i = 0; i < average.Length; i++)
        {
            average[i] *= scale;
        }

        var loss = contributions.Average(contribution => contribution.Loss);
        _trainer.SetGradients(average);
        _trainer.ApplyGradients(loss, contributions.Sum(contribution => contribution.Tokens));
        _parameters = ParameterVector.Read(_trainer.Model.parameters().ToArray());
        Version++;
        _pending.Clear();
        var outcome = new StepOutcome(Version, loss, contributions.Count, dropped, contributions.Sum(contribution => contribution.Tokens), _parameters);
        var finished = _step;
        _step = NewStep();
        finished.SetResult(outcome);
        StepApplied?.Invoke(outcome);
    }

    private static TaskCompletionSource<StepOutcome> NewStep() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
