using System.Numerics.Tensors;
using MsSwift.Contracts.Training.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Training;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Training.ParameterServer;

/// <summary>
/// What a step did, as every worker that took part is told; with the new parameters (an immutable
/// snapshot) for evaluation, and how long the optimizer update took (averaging to new parameters).
/// </summary>
public sealed record StepOutcome(long Version, double Loss, int Workers, IReadOnlyList<string> Dropped, long Tokens, float[] Parameters, TimeSpan Update = default);

/// <summary>What a pushed gradient got: the applied step, or more shards of the same step to compute first.</summary>
public sealed record SubmitResult(StepOutcome? Applied, IReadOnlyList<int> MoreShards);

/// <summary>A change of the job's members: who is in now, and what happened.</summary>
public sealed record MembershipChange(IReadOnlyList<string> Members, string Description);

/// <summary>
/// One job's parameter server: fp32 master weights and AdamW state (a <see cref="GptTrainer"/>),
/// elastic membership and the synchronous step. Every step's global batch is
/// <see cref="ParameterServerSettings.ShardCount"/> shards; the members of the step share them
/// (<see cref="ShardAssignment"/>). Step t completes when every shard's gradient arrived: they are
/// averaged, weighted by shard, so the step is the same whoever computed them; the optimizer
/// applies the average and the version becomes t + 1. A member that leaves, whose lease lapses, or
/// that has not delivered <see cref="ParameterServerSettings.StragglerTimeout"/> after the first
/// gradient of the step, is removed and its shards go to the others at once.
/// </summary>
public sealed class ParameterServerJob : IDisposable
{
    private readonly GptTrainer _trainer;
    private readonly TimeProvider _time;
    private readonly TorchThread? _torch;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _leases = new(StringComparer.Ordinal);
    private readonly List<(string Worker, int Shards, float[] Gradient, double Loss, long Tokens)> _delivered = [];
    private readonly List<string> _dropped = [];
    private readonly ITimer _leaseSweep;
    private readonly long _totalSteps;
    private ShardAssignment? _assignment;
    private ITimer? _stragglerTimer;
    private StepOutcome? _lastOutcome;
    private TaskCompletionSource _changed = NewSignal();
    private float[] _parameters;
    private bool _disposed;

    /// <param name="jobId">The job.</param>
    /// <param name="model">The fp32 master weights (owned from here on, disposed with the job).</param>
    /// <param name="hyperparameters">Optimizer and schedule.</param>
    /// <param name="settings">Wire format, shards, membership and timeouts.</param>
    /// <param name="resume">Optimizer state and version from a checkpoint, to continue a job exactly.</param>
    /// <param name="time">The clock of leases and straggler timeouts.</param>
    /// <param name="torch">The thread each step's optimizer update runs on (null: the thread that delivers the step's last gradient).</param>
    public ParameterServerJob(
        string jobId, GptModel model, TrainingHyperparameters hyperparameters, ParameterServerSettings settings,
        (Stream OptimizerState, long Version)? resume = null, TimeProvider? time = null, TorchThread? torch = null)
    {
        _torch = torch;
        JobId = jobId;
        Settings = settings;
        _time = time ?? TimeProvider.System;
        _trainer = new GptTrainer(model, hyperparameters);
        _totalSteps = hyperparameters.TotalSteps;
        if (resume is { } state)
        {
            _trainer.RestoreState(state.OptimizerState, (int)state.Version);
            Version = state.Version;
        }

        _parameters = ParameterVector.Read(model.parameters().ToArray());
        var sweep = settings.Lease / 3;
        _leaseSweep = _time.CreateTimer(_ => ExpireLeases(), null, sweep, sweep);
    }

    public string JobId { get; }

    public ParameterServerSettings Settings { get; }

    /// <summary>The tokenizer recorded in checkpoints: the dataset's, so the registered model decodes with it.</summary>
    public string TokenizerId { get; init; } = "byte";

    /// <summary>Optimizer steps applied so far; a worker's next gradient is for this step.</summary>
    public long Version { get; private set; }

    public int ParameterCount => _parameters.Length;

    /// <summary>Raised (under the job's lock, so in order) after each step: for status, checkpoints and metrics. Must not block.</summary>
    public event Action<StepOutcome>? StepApplied;

    /// <summary>
    /// Raised (under the job's lock) with the reason when a worker delivers a gradient or loss that
    /// is not finite: averaged in, it would turn every parameter into NaN for the rest of the job,
    /// so the gradient is refused and the job should end. Must not block.
    /// </summary>
    public event Action<string>? Diverged;

    /// <summary>Raised (under the job's lock, so in order) when members join or leave. Must not block.</summary>
    public event Action<MembershipChange>? MembershipChanged;

    /// <summary>The members now, sorted.</summary>
    public IReadOnlyList<string> Members
    {
        get
        {
            lock (_gate)
            {
                return SortedMembers();
            }
        }
    }

    /// <summary>The model file of the checkpoint under <paramref name="prefix"/> (what the registry registers).</summary>
    public static string ModelFile(string prefix) => $"{prefix}/model.safetensors";

    /// <summary>Writes the model and optimizer state of the current version under <paramref name="prefix"/>; returns that version.</summary>
    public async Task<long> SaveCheckpointAsync(ICheckpointStore store, string prefix, CancellationToken cancellationToken)
    {
        // One consistent version: a step replaces _parameters (never mutates it) under this lock.
        MemoryStream optimizer = new();
        long version;
        float[] parameters;
        GptConfig config;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            version = Version;
            parameters = _parameters;
            config = _trainer.Model.Config;
            _trainer.SaveOptimizerState(optimizer);
        }

        using var snapshot = new GptModel(config);
        ParameterVector.Write(snapshot.parameters().ToArray(), parameters);
        await GptCheckpoint.SaveAsync(store, ModelFile(prefix), snapshot, TokenizerId, cancellationToken);
        optimizer.Position = 0;
        await store.SaveAsync($"{prefix}/optimizer.bin", (stream, token) => optimizer.CopyToAsync(stream, token), cancellationToken);
        return version;
    }

    /// <summary>The current parameters and their version (an immutable snapshot).</summary>
    public (long Version, float[] Parameters) Snapshot()
    {
        lock (_gate)
        {
            return (Version, _parameters);
        }
    }

    /// <summary>Adds the worker to the job (or renews it); it takes part from the next step, or at once in shards nobody holds.</summary>
    public JoinResponse Join(string workerId)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_leases.ContainsKey(workerId))
            {
                if (_leases.Count >= Settings.MaximumMembers)
                {
                    throw new ServiceException(ServiceError.ResourceExhausted,
                        $"job '{JobId}' has its maximum of {Settings.MaximumMembers} workers; try another job, or this one when a worker leaves");
                }

                _leases[workerId] = _time.GetUtcNow() + Settings.Lease;
                _assignment?.Reassign(new HashSet<string>(), _leases.Keys);
                Changed($"{workerId} joined at step {Version}");
            }

            Renew(workerId);
            return new JoinResponse
            {
                Step = Version, Version = Version, Format = Settings.Format, ParameterCount = _parameters.Length,
                LeaseMilliseconds = (long)Settings.Lease.TotalMilliseconds,
            };
        }
    }

    /// <summary>Renews the worker's lease; returns the current step.</summary>
    public long Heartbeat(string workerId)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RequireMember(workerId);
            Renew(workerId);
            return Version;
        }
    }

    /// <summary>Removes the worker now; its unfinished shards go to the others. Leaving twice is harmless.</summary>
    public void Leave(string workerId)
    {
        lock (_gate)
        {
            if (!_disposed && _leases.ContainsKey(workerId))
            {
                Remove(new HashSet<string>(StringComparer.Ordinal) { workerId }, $"{workerId} left at step {Version}", dropped: false);
            }
        }
    }

    /// <summary>
    /// The parameters, their version and the worker's shards in that step, once it has some: a
    /// worker that joined mid-step waits for the next one (or for shards a leaver left).
    /// </summary>
    public async Task<(long Version, float[] Parameters, int[] Shards)> PullAsync(string workerId, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                RequireMember(workerId);
                RequireStepsLeft();
                Renew(workerId);
                StartStepIfReady();
                if (_assignment?.OwnedBy(workerId) is { Length: > 0 } shards)
                {
                    return (Version, _parameters, shards);
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Refuses, before a gradient stream is read, a push that <see cref="SubmitAsync"/> would refuse
    /// anyway for who sends it or for which step: a stream from a non-member costs no gradient-sized buffer.
    /// </summary>
    public void RequirePushable(string workerId, long step)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RequireStepsLeft();
            RequireCurrentStep(step);
            RequireMember(workerId);
        }
    }

    /// <summary>
    /// Adds a worker's gradient, the mean over <paramref name="shards"/> of step
    /// <paramref name="step"/>, and waits until the step is applied or the worker is given more
    /// shards of it.
    /// </summary>
    public async Task<SubmitResult> SubmitAsync(string workerId, long step, IReadOnlyList<int> shards, float[] gradient, double loss, long tokens, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            RequireStepsLeft();
            RequireCurrentStep(step);

            RequireMember(workerId);
            if (gradient.Length != _parameters.Length)
            {
                throw new ServiceException(ServiceError.InvalidArgument, $"the gradient has {gradient.Length} elements; the model has {_parameters.Length}");
            }

            if (Settings.TokensPerShard > 0 && tokens != Settings.TokensPerShard * shards.Count)
            {
                throw new ServiceException(ServiceError.InvalidArgument,
                    $"the gradient covers {tokens} tokens; job '{JobId}' takes {Settings.TokensPerShard} per shard (batch size x window x accumulation steps), {Settings.TokensPerShard * shards.Count} for {shards.Count} shards");
            }

            StartStepIfReady();
            var refusal = _assignment is null ? "the step has not started" : _assignment.Refusal(workerId, shards);
            if (_assignment is null || refusal is not null)
            {
                throw new ServiceException(ServiceError.FailedPrecondition, $"{refusal}: pull the parameters and compute what they assign");
            }

            // NaN and infinities propagate into the sum (an overflow of finite values would need a gradient that is garbage anyway).
            if (!double.IsFinite(loss) || !float.IsFinite(TensorPrimitives.Sum(gradient)))
            {
                var overflow = Settings.Format == WireFormat.Fp16 ? "; or the gradient overflowed the fp16 wire (largest 65504): use bf16" : "";
                var reason = $"training diverged at step {step}: the gradient from {workerId} is not finite (loss {loss}); lower the learning rate{overflow}";
                Diverged?.Invoke(reason);
                throw new ServiceException(ServiceError.FailedPrecondition, reason);
            }

            Renew(workerId);
            _assignment.Deliver(shards);
            _delivered.Add((workerId, shards.Count, gradient, loss, tokens));
            if (_assignment.Complete)
            {
                return new SubmitResult(Apply(), []);
            }

            if (_delivered.Count == 1)
            {
                StartStragglerTimer(step);
            }
        }

        while (true)
        {
            Task changed;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (Version > step && _lastOutcome is { } applied)
                {
                    return new SubmitResult(applied, []);
                }

                RequireMember(workerId);
                if (_assignment?.OwnedBy(workerId) is { Length: > 0 } more)
                {
                    return new SubmitResult(null, more);
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            // Under the lock: a step being applied finishes first, and none starts after.
            _disposed = true;
            _leaseSweep.Dispose();
            _stragglerTimer?.Dispose();
            _trainer.Dispose();
            _trainer.Model.Dispose();
            Pulse();
        }
    }

    private void StartStepIfReady()
    {
        var required = Version == 0 ? Settings.MinimumWorkers : 1;
        if (_assignment is null && Version < _totalSteps && _leases.Count >= required)
        {
            _assignment = new ShardAssignment(Settings.ShardCount, _leases.Keys);
        }
    }

    private void StartStragglerTimer(long step)
    {
        _stragglerTimer?.Dispose();
        _stragglerTimer = _time.CreateTimer(_ => DropStragglers(step), null, Settings.StragglerTimeout, Timeout.InfiniteTimeSpan);
    }

    private void DropStragglers(long step)
    {
        lock (_gate)
        {
            if (_disposed || Version != step || _assignment is null)
            {
                return;
            }

            var stragglers = _assignment.Owing;
            if (stragglers.Count > 0)
            {
                Remove(stragglers, $"step {step}: dropped stragglers: {string.Join(", ", stragglers.Order(StringComparer.Ordinal))}", dropped: true);
                // The heirs get a full timeout for the shards they were just given.
                StartStragglerTimer(step);
            }
        }
    }

    private void ExpireLeases()
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var lapsed = _leases.Where(lease => lease.Value < now).Select(lease => lease.Key).ToHashSet(StringComparer.Ordinal);
            if (!_disposed && lapsed.Count > 0)
            {
                Remove(lapsed, $"lease lapsed at step {Version}: {string.Join(", ", lapsed.Order(StringComparer.Ordinal))}", dropped: true);
            }
        }
    }

    /// <summary>Takes the workers out of the job and hands their shards to the others. Called under the lock.</summary>
    private void Remove(IReadOnlySet<string> workers, string description, bool dropped)
    {
        foreach (var worker in workers)
        {
            _leases.Remove(worker);
            if (dropped && _assignment is not null)
            {
                _dropped.Add(worker);
            }
        }

        _assignment?.Reassign(workers, _leases.Keys);
        Changed(description);
    }

    /// <summary>Averages the delivered gradients by shard, steps the optimizer, publishes the new version. Called under the lock.</summary>
    private StepOutcome Apply()
    {
        _stragglerTimer?.Dispose();
        _stragglerTimer = null;
        var started = _time.GetTimestamp();
        var shards = Settings.ShardCount;
        var average = new float[_parameters.Length];
        double loss = 0;
        foreach (var (_, count, gradient, workerLoss, _) in _delivered)
        {
            TensorPrimitives.MultiplyAdd(gradient, (float)count / shards, average, average);

            loss += workerLoss * count / shards;
        }

        var tokens = _delivered.Sum(delivery => delivery.Tokens);
        _parameters = _torch is null ? Step(average, loss, tokens) : _torch.Invoke(() => Step(average, loss, tokens));
        Version++;
        var workers = _delivered.Select(delivery => delivery.Worker).Distinct(StringComparer.Ordinal).Count();
        var outcome = new StepOutcome(Version, loss, workers, _dropped.Order(StringComparer.Ordinal).ToList(), tokens, _parameters, _time.GetElapsedTime(started));
        _delivered.Clear();
        _dropped.Clear();
        _assignment = null;
        _lastOutcome = outcome;
        StepApplied?.Invoke(outcome);
        Pulse();
        return outcome;
    }

    /// <summary>The optimizer update with the averaged gradient; returns the new parameters.</summary>
    private float[] Step(float[] average, double loss, long tokens)
    {
        _trainer.SetGradients(average);
        _trainer.ApplyGradients(loss, tokens);
        return ParameterVector.Read(_trainer.Model.parameters().ToArray());
    }

    /// <summary>The job's steps are its length: after the last, nothing is computed (its checkpoint and registration are the end).</summary>
    private void RequireStepsLeft()
    {
        if (Version >= _totalSteps)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{JobId}' has run all its {_totalSteps} steps; there is nothing more to compute");
        }
    }

    private void RequireCurrentStep(long step)
    {
        if (step != Version)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"gradient for step {step}, but the job is at step {Version}: pull the parameters and compute again");
        }
    }

    private void RequireMember(string workerId)
    {
        if (!_leases.ContainsKey(workerId))
        {
            throw new ServiceException(ServiceError.FailedPrecondition,
                $"worker '{workerId}' is not a member of job '{JobId}' (it left, its lease lapsed, or it was dropped as a straggler): join again");
        }
    }

    private void Renew(string workerId) => _leases[workerId] = _time.GetUtcNow() + Settings.Lease;

    private List<string> SortedMembers() => _leases.Keys.Order(StringComparer.Ordinal).ToList();

    private void Changed(string description)
    {
        MembershipChanged?.Invoke(new MembershipChange(SortedMembers(), description));
        Pulse();
    }

    /// <summary>Wakes every waiting pull and push to look at the state again.</summary>
    private void Pulse()
    {
        var changed = _changed;
        _changed = NewSignal();
        changed.SetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
