using Microsoft.Extensions.Time.Testing;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Errors;
using MsSwift.Training.Jobs;

namespace MsSwift.Training.Tests;

/// <summary>Every transition of a training job's state machine, on a fake clock.</summary>
public sealed class JobRulesTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
    private static readonly TrainRequest Request = new() { Dataset = "corpus", Workers = 2, Steps = 10 };

    [Fact]
    public void A_job_is_created_led_stepped_checkpointed_evaluated_and_succeeds_each_with_its_event()
    {
        var (created, createdEvent) = JobRules.Create("job-000000000001", Request, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromSeconds(1));
        var (running, runningEvent) = JobRules.Lead(created, 0, "", _time.GetUtcNow());
        var (joined, joinedEvent) = JobRules.MembershipChanged(running, ["w1", "w2"], "w2 joined at step 0", _time.GetUtcNow());
        var (stepped, stepEvent) = JobRules.Step(joined, new StepProgress(10, 1.5, 2, 1000, 500, 0, []), _time.GetUtcNow());
        var (checkpointed, checkpointEvent) = JobRules.Checkpointed(stepped, "jobs/j/step-10/model.safetensors", _time.GetUtcNow());
        var (evaluated, evaluatedEvent) = JobRules.Evaluated(checkpointed, 10, 1.7, _time.GetUtcNow());
        var (succeeded, succeededEvent) = JobRules.Succeed(evaluated, 10, "jobs/j/step-10/model.safetensors", "corpus", "v1", _time.GetUtcNow());

        Assert.Equal(TrainState.Created, created.State);
        Assert.Equal(TrainingEventType.Created, createdEvent.Type);
        Assert.Equal((TrainState.Running, TrainingEventType.Running), (running.State, runningEvent.Type));
        Assert.Equal(["w1", "w2"], joined.Members);
        Assert.Equal((2, TrainingEventType.MembershipChanged), (joined.Workers, joinedEvent.Type));
        Assert.Null(stepEvent); // a plain step changes the status only
        Assert.Equal((10L, 1.5, 1000L), (stepped.Step, stepped.Loss, stepped.Tokens));
        Assert.Equal(TrainingEventType.Checkpointed, checkpointEvent.Type);
        Assert.Equal((10L, 1.7), (evaluated.EvalStep, evaluated.EvalLoss));
        Assert.Equal(TrainingEventType.Evaluated, evaluatedEvent.Type);
        Assert.Equal((TrainState.Succeeded, "v1"), (succeeded.State, succeeded.RegisteredVersion));
        Assert.Equal(TrainingEventType.Succeeded, succeededEvent.Type);
        Assert.Equal(["w1", "w2"], succeeded.Members); // who trained it stays on record
        // Each event carries the status it announces and the fake clock's time; the inputs were never changed.
        Assert.Equal(succeeded, succeededEvent.Status);
        Assert.Equal(_time.GetUtcNow(), succeededEvent.OccurredAt.ToDateTimeOffset());
        Assert.Equal(TrainState.Created, created.State);
        Assert.Equal(0, running.Step);
    }

    [Fact]
    public void A_step_that_dropped_stragglers_says_so_in_an_event_and_a_stale_step_is_refused()
    {
        var running = Running();
        var (dropped, droppedEvent) = JobRules.Step(running, new StepProgress(3, 2.0, 1, 100, 10, 0, ["w2"]), _time.GetUtcNow());

        Assert.Equal(TrainingEventType.WorkersDropped, droppedEvent!.Type);
        Assert.Contains("dropped stragglers: w2", dropped.Message);
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Step(dropped, new StepProgress(3, 2.0, 1, 100, 10, 0, []), _time.GetUtcNow())));
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Evaluated(JobRules.Evaluated(dropped, 3, 1, _time.GetUtcNow()).Status, 2, 1, _time.GetUtcNow())));
    }

    [Fact]
    public void A_takeover_restarts_the_job_clearing_its_members_and_the_new_leader_runs_it_from_the_checkpoint()
    {
        var (withMembers, _) = JobRules.MembershipChanged(Running(), ["w1"], "w1 joined", _time.GetUtcNow());
        var (restarting, restartEvent) = JobRules.Restart(withMembers, _time.GetUtcNow());
        var (resumed, _) = JobRules.Lead(restarting, 4, "resumed at step 4", _time.GetUtcNow());

        Assert.Equal(TrainingEventType.Restarting, restartEvent.Type);
        Assert.Equal((TrainState.Restarting, 0), (restarting.State, restarting.Members.Count));
        Assert.Equal((TrainState.Running, 4L), (resumed.State, resumed.Step));
        // While restarting nothing but the lead may happen.
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Step(restarting, new StepProgress(5, 1, 1, 1, 1, 0, []), _time.GetUtcNow())));
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Checkpointed(restarting, "x", _time.GetUtcNow())));
    }

    [Fact]
    public void A_job_succeeds_only_at_its_last_step()
    {
        var (atNine, _) = JobRules.Step(Running(), new StepProgress(9, 1, 1, 1, 1, 0, []), _time.GetUtcNow());

        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Succeed(atNine, 10, "c", "m", "v1", _time.GetUtcNow())));
    }

    [Fact]
    public void Cancel_and_fail_end_an_open_job_and_an_ended_job_never_changes_again()
    {
        var (cancelled, cancelEvent) = JobRules.Cancel(Running(), _time.GetUtcNow());
        var (failed, failEvent) = JobRules.Fail(JobRules.Create("job-000000000002", Request, _time.GetUtcNow()).Status, "the dataset vanished", _time.GetUtcNow());

        Assert.Equal((TrainState.Cancelled, TrainingEventType.Cancelled), (cancelled.State, cancelEvent.Type));
        Assert.Equal((TrainState.Failed, "the dataset vanished"), (failed.State, failed.Message));
        Assert.Equal(TrainingEventType.Failed, failEvent.Type);
        foreach (var ended in new[] { cancelled, failed })
        {
            var now = _time.GetUtcNow();
            Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Cancel(ended, now)));
            Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Fail(ended, "again", now)));
            Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Lead(ended, 0, "", now)));
            Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.Restart(ended, now)));
            Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.MembershipChanged(ended, ["w"], "", now)));
            Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => JobRules.RequireCancellable(ended)));
            Assert.True(JobRules.IsTerminal(ended.State));
        }

        Assert.False(JobRules.IsTerminal(TrainState.Restarting));
    }

    private TrainStatus Running() =>
        JobRules.Lead(JobRules.Create("job-000000000003", Request, _time.GetUtcNow()).Status, 0, "", _time.GetUtcNow()).Status;

    private static ServiceError Refusal(Action change) => Assert.Throws<ServiceException>(change).Error;
}
