using Google.Protobuf.WellKnownTypes;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Training.Jobs;

/// <summary>What one step did to the job's counters (measured by its leader).</summary>
/// <param name="Version">The parameter version after the step.</param>
/// <param name="Loss">Mean training loss over the step's shards.</param>
/// <param name="Workers">Workers that delivered a gradient.</param>
/// <param name="Tokens">Tokens the step trained on.</param>
/// <param name="TokensPerSecond">Tokens over the time since the previous step.</param>
/// <param name="Epoch">Passes over the training split so far.</param>
/// <param name="Dropped">Workers dropped from the step for missing the straggler timeout.</param>
public sealed record StepProgress(long Version, double Loss, int Workers, long Tokens, double TokensPerSecond, long Epoch, IReadOnlyList<string> Dropped);

/// <summary>
/// A training job's state machine, as pure functions in the registry's shape: each takes the
/// current status (never changed) and returns the next one and the event that announces it (none
/// for a plain step), or throws a <see cref="ServiceException"/> saying why the change is not
/// allowed. The job's leader applies them and commits the result with its fencing token.
/// </summary>
/// <remarks>
/// Created → Running (led) ⇄ Restarting (taken over) → Succeeded | Failed | Cancelled. Steps,
/// checkpoints, evaluations and membership changes only happen while Running; steps never go
/// backwards; an ended job never changes again.
/// </remarks>
public static class JobRules
{
    public static bool IsTerminal(TrainState state) => state is TrainState.Succeeded or TrainState.Failed or TrainState.Cancelled;

    public static (TrainStatus Status, TrainingEvent Event) Create(string jobId, TrainRequest request, DateTimeOffset now)
    {
        var status = new TrainStatus { JobId = jobId, State = TrainState.Created, Workers = 0, InitFrom = request.InitFrom };
        return (status, Event(TrainingEventType.Created, status, now));
    }

    /// <summary>A coordinator leads the job from <paramref name="version"/> (0: a fresh start).</summary>
    public static (TrainStatus Status, TrainingEvent Event) Lead(TrainStatus current, long version, string message, DateTimeOffset now)
    {
        RequireOpen(current, "lead");
        if (version < current.ParameterVersion && current.State == TrainState.Running)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{current.JobId}' is at step {current.ParameterVersion}; a leader cannot start it at {version} without taking it over");
        }

        var next = current.Clone();
        next.State = TrainState.Running;
        next.Step = version;
        next.ParameterVersion = version;
        next.Message = message;
        return (next, Event(TrainingEventType.Running, next, now));
    }

    /// <summary>A coordinator takes the job over from its last committed checkpoint.</summary>
    public static (TrainStatus Status, TrainingEvent Event) Restart(TrainStatus current, DateTimeOffset now)
    {
        RequireOpen(current, "take over");
        var next = current.Clone();
        next.State = TrainState.Restarting;
        next.Message = "taking over from the last checkpoint";
        next.Members.Clear();
        next.Workers = 0;
        return (next, Event(TrainingEventType.Restarting, next, now));
    }

    /// <summary>A step was applied: the counters move; an event only when stragglers were dropped.</summary>
    public static (TrainStatus Status, TrainingEvent? Event) Step(TrainStatus current, StepProgress step, DateTimeOffset now)
    {
        RequireRunning(current, "step");
        if (step.Version <= current.ParameterVersion)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{current.JobId}' is at step {current.ParameterVersion}; step {step.Version} is stale");
        }

        var next = current.Clone();
        next.Step = step.Version;
        next.ParameterVersion = step.Version;
        next.Loss = step.Loss;
        next.Tokens += step.Tokens;
        next.TokensPerSecond = step.TokensPerSecond;
        next.Epoch = step.Epoch;
        if (step.Dropped.Count == 0)
        {
            return (next, null);
        }

        // "What happened last" stays until something else happens, so a poller cannot miss it.
        next.Message = $"step {step.Version}: dropped stragglers: {string.Join(", ", step.Dropped)}";
        return (next, Event(TrainingEventType.WorkersDropped, next, now));
    }

    public static (TrainStatus Status, TrainingEvent Event) MembershipChanged(TrainStatus current, IReadOnlyList<string> members, string description, DateTimeOffset now)
    {
        RequireRunning(current, "change the members of");
        var next = current.Clone();
        next.Members.Clear();
        next.Members.Add(members);
        next.Workers = members.Count;
        next.Message = description;
        return (next, Event(TrainingEventType.MembershipChanged, next, now));
    }

    public static (TrainStatus Status, TrainingEvent Event) Checkpointed(TrainStatus current, string checkpoint, DateTimeOffset now)
    {
        RequireRunning(current, "checkpoint");
        var next = current.Clone();
        next.LastCheckpoint = checkpoint;
        return (next, Event(TrainingEventType.Checkpointed, next, now));
    }

    public static (TrainStatus Status, TrainingEvent Event) Evaluated(TrainStatus current, long step, double loss, DateTimeOffset now)
    {
        RequireRunning(current, "evaluate");
        if (step < current.EvalStep)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{current.JobId}' was evaluated at step {current.EvalStep}; step {step} is older");
        }

        var next = current.Clone();
        next.EvalLoss = loss;
        next.EvalStep = step;
        return (next, Event(TrainingEventType.Evaluated, next, now));
    }

    /// <summary>The job trained all <paramref name="steps"/> steps and its model is registered.</summary>
    public static (TrainStatus Status, TrainingEvent Event) Succeed(TrainStatus current, int steps, string checkpoint, string model, string version, DateTimeOffset now)
    {
        RequireRunning(current, "finish");
        if (current.ParameterVersion != steps)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{current.JobId}' is at step {current.ParameterVersion} of {steps}; it cannot succeed yet");
        }

        var next = current.Clone();
        next.State = TrainState.Succeeded;
        next.LastCheckpoint = checkpoint;
        next.RegisteredModel = model;
        next.RegisteredVersion = version;
        next.Message = $"registered {model} {version}";
        return (next, Event(TrainingEventType.Succeeded, next, now));
    }

    public static (TrainStatus Status, TrainingEvent Event) Fail(TrainStatus current, string reason, DateTimeOffset now) =>
        End(current, TrainState.Failed, TrainingEventType.Failed, reason, now);

    public static (TrainStatus Status, TrainingEvent Event) Cancel(TrainStatus current, DateTimeOffset now) =>
        End(current, TrainState.Cancelled, TrainingEventType.Cancelled, "cancelled by request", now);

    /// <summary>Refuses a cancellation of an ended job (before anyone is asked to cancel it).</summary>
    public static void RequireCancellable(TrainStatus current) => RequireOpen(current, "cancel");

    private static (TrainStatus Status, TrainingEvent Event) End(TrainStatus current, TrainState state, TrainingEventType type, string message, DateTimeOffset now)
    {
        RequireOpen(current, state == TrainState.Cancelled ? "cancel" : "fail");
        var next = current.Clone();
        next.State = state;
        next.Message = message;
        return (next, Event(type, next, now));
    }

    private static void RequireOpen(TrainStatus current, string action)
    {
        if (IsTerminal(current.State))
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{current.JobId}' already ended ({current.State}); cannot {action} it");
        }
    }

    private static void RequireRunning(TrainStatus current, string action)
    {
        RequireOpen(current, action);
        if (current.State != TrainState.Running)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"job '{current.JobId}' is {current.State}, not running; cannot {action} it");
        }
    }

    private static TrainingEvent Event(TrainingEventType type, TrainStatus status, DateTimeOffset now) => new()
    {
        Type = type, JobId = status.JobId, Status = status.Clone(), OccurredAt = Timestamp.FromDateTimeOffset(now),
    };
}
