using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Registry.Models;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Tests;

/// <summary>The registry's state machine on its own: stages, history, canary and what is refused.</summary>
public sealed class ModelRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Promote_remembers_the_previous_production_version_and_roll_back_restores_it()
    {
        var model = WithVersions("v1", "v2", "v3");
        model = ModelRules.Promote(model, "v1", Now).Model;
        model = ModelRules.Promote(model, "v2", Now).Model;
        var (promoted, promotedEvent) = ModelRules.Promote(model, "v3", Now);

        var (rolledBack, rollBackEvent) = ModelRules.RollBack(promoted, Now);
        var (twice, _) = ModelRules.RollBack(rolledBack, Now);

        Assert.Equal(ModelEventType.Promoted, promotedEvent.Type);
        Assert.Equal(["v1", "v2"], promoted.ProductionHistory);
        Assert.Equal("v2", rolledBack.ProductionVersion);
        Assert.Equal(ModelEventType.RolledBack, rollBackEvent.Type);
        Assert.Equal("v2", rollBackEvent.Version);
        Assert.Equal("tiny/v2/model.safetensors", rollBackEvent.Checkpoint);
        Assert.Equal(Stage.None, ModelRules.Find(rolledBack, "v3")!.Stage);
        Assert.Equal("v1", twice.ProductionVersion);
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => ModelRules.RollBack(twice, Now)));
        Assert.Equal(promoted.Revision + 2, twice.Revision);
    }

    [Fact]
    public void Production_and_canary_versions_cannot_be_deleted_or_archived()
    {
        var model = ModelRules.Promote(WithVersions("v1", "v2", "v3"), "v1", Now).Model;
        model = ModelRules.SetCanary(model, "v2", 10, Now).Model;

        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => ModelRules.Delete(model, "v1", Now)));
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => ModelRules.Archive(model, "v2", Now)));
        Assert.Equal(ServiceError.NotFound, Refusal(() => ModelRules.Delete(model, "v9", Now)));
        var deleted = ModelRules.Delete(model, "v3", Now).Model;
        Assert.Equal(["v1", "v2"], deleted.Versions.Select(version => version.Version));
    }

    [Fact]
    public void Canary_needs_a_production_version_and_a_share_between_1_and_99_and_ends_when_promoted()
    {
        var unpromoted = WithVersions("v1", "v2");
        var model = ModelRules.Promote(unpromoted, "v1", Now).Model;

        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => ModelRules.SetCanary(unpromoted, "v2", 10, Now)));
        Assert.Equal(ServiceError.InvalidArgument, Refusal(() => ModelRules.SetCanary(model, "v2", 100, Now)));
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => ModelRules.SetCanary(model, "v1", 10, Now)));

        var (canary, canaryEvent) = ModelRules.SetCanary(model, "v2", 30, Now);
        var promoted = ModelRules.Promote(canary, "v2", Now).Model;
        var (cleared, clearedEvent) = ModelRules.SetCanary(canary, "", 0, Now);

        Assert.Equal(30, canaryEvent.CanaryPercent);
        Assert.Equal(new Canary { Version = "v2", Percent = 30 }, canary.Canary);
        Assert.Null(promoted.Canary);
        Assert.Null(cleared.Canary);
        Assert.Equal(ModelEventType.CanarySet, clearedEvent.Type);
        Assert.Equal(0, clearedEvent.CanaryPercent);
        Assert.Equal("v2", clearedEvent.Version);
    }

    [Fact]
    public void Register_numbers_versions_refuses_duplicates_and_bad_names()
    {
        var model = new RegisteredModel { Name = "tiny" };
        model = ModelRules.Register(model, new ModelVersion { Checkpoint = "a" }, Now).Model;
        model = ModelRules.Register(model, new ModelVersion { Version = "v7", Checkpoint = "b" }, Now).Model;
        var (next, registered) = ModelRules.Register(model, new ModelVersion { Checkpoint = "c" }, Now);

        Assert.Equal(["v1", "v7", "v8"], next.Versions.Select(version => version.Version));
        Assert.Equal(ModelEventType.Registered, registered?.Type);
        Assert.Equal(ServiceError.AlreadyExists, Refusal(() => ModelRules.Register(next, new ModelVersion { Version = "v7" }, Now)));
        Assert.Equal(ServiceError.InvalidArgument, Refusal(() => ModelRules.Register(next, new ModelVersion { Version = "../x" }, Now)));
        Assert.Equal(ServiceError.InvalidArgument, Refusal(() => ModelRules.Register(next, new ModelVersion { Version = "v9", Stage = Stage.Production }, Now)));
    }

    [Fact]
    public void Register_is_idempotent_by_source_job_whatever_the_repeated_request_names()
    {
        var model = ModelRules.Register(new RegisteredModel { Name = "tiny" }, new ModelVersion { Checkpoint = "jobs/a/step-4", SourceJob = "job-a" }, Now).Model;

        // Retried or finished again by a coordinator that took the job over: another checkpoint, even a version name.
        var (again, againEvent) = ModelRules.Register(model, new ModelVersion { Version = "v5", Checkpoint = "jobs/a/step-4-fence-2", SourceJob = "job-a" }, Now);
        var (other, otherEvent) = ModelRules.Register(again, new ModelVersion { Checkpoint = "jobs/b/step-4", SourceJob = "job-b" }, Now);
        var withoutJob = ModelRules.Register(ModelRules.Register(other, new ModelVersion { Checkpoint = "x" }, Now).Model, new ModelVersion { Checkpoint = "x" }, Now).Model;

        Assert.Same(model, again);
        Assert.Null(againEvent);
        Assert.Equal("jobs/a/step-4", ModelRules.VersionOfJob(again, "job-a")!.Checkpoint);
        Assert.Equal(ModelEventType.Registered, otherEvent?.Type);
        Assert.Equal("v2", ModelRules.VersionOfJob(other, "job-b")!.Version);
        Assert.Null(ModelRules.VersionOfJob(other, "job-c"));
        // Registrations without a job are never taken for one another.
        Assert.Equal(["v1", "v2", "v3", "v4"], withoutJob.Versions.Select(version => version.Version));
        Assert.Null(ModelRules.VersionOfJob(withoutJob, ""));
    }

    [Fact]
    public void Register_records_the_parent_version_and_refuses_one_the_model_does_not_have()
    {
        var model = WithVersions("v1");

        var (child, _) = ModelRules.Register(model, new ModelVersion { Checkpoint = "c", ParentVersion = "v1" }, Now);
        var unknown = Assert.Throws<ServiceException>(() => ModelRules.Register(child, new ModelVersion { Checkpoint = "d", ParentVersion = "v9" }, Now));

        Assert.Equal("v1", ModelRules.Find(child, "v2")!.ParentVersion);
        Assert.Equal("", ModelRules.Find(child, "v1")!.ParentVersion);
        Assert.Equal(ServiceError.InvalidArgument, unknown.Error);
        var violation = Assert.Single(unknown.Violations);
        Assert.Equal("parent_version", violation.Field);
        Assert.Contains("'v9' is not one (versions: v1, v2)", violation.Description);
    }

    [Fact]
    public void Archived_versions_leave_the_roll_back_history_and_cannot_be_promoted()
    {
        var model = WithVersions("v1", "v2", "v3");
        model = ModelRules.Promote(model, "v1", Now).Model;
        model = ModelRules.Promote(model, "v2", Now).Model;
        model = ModelRules.Promote(model, "v3", Now).Model;
        model = ModelRules.Archive(model, "v2", Now).Model;

        Assert.Equal(["v1"], model.ProductionHistory);
        Assert.Equal(ServiceError.FailedPrecondition, Refusal(() => ModelRules.Promote(model, "v2", Now)));
        Assert.Equal("v1", ModelRules.RollBack(model, Now).Model.ProductionVersion);
    }

    [Fact]
    public void A_version_has_one_live_int8_copy_and_another_once_that_one_is_archived()
    {
        static ModelVersion Int8(string name, string parent = "v1") => new() { Version = name, Checkpoint = $"tiny/{name}/model.int8.safetensors", ParentVersion = parent, Quantization = "int8" };
        var model = ModelRules.Register(WithVersions("v1", "v2"), Int8("v1-int8"), Now).Model;

        Assert.Equal(ServiceError.AlreadyExists, Refusal(() => ModelRules.Register(model, Int8("other"), Now)));
        var second = ModelRules.Register(model, Int8("other", parent: "v2"), Now).Model;
        Assert.Equal("other", ModelRules.QuantizedCopyOf(second, "v2", "int8")?.Version);

        var archived = ModelRules.Archive(model, "v1-int8", Now).Model;
        Assert.Null(ModelRules.QuantizedCopyOf(archived, "v1", "int8"));
        Assert.Equal("again", ModelRules.QuantizedCopyOf(ModelRules.Register(archived, Int8("again"), Now).Model, "v1", "int8")?.Version);
    }

    private static RegisteredModel WithVersions(params string[] versions)
    {
        var model = new RegisteredModel { Name = "tiny" };
        foreach (var version in versions)
        {
            model = ModelRules.Register(model, new ModelVersion { Version = version, Checkpoint = $"tiny/{version}/model.safetensors" }, Now).Model;
        }

        return model;
    }

    private static ServiceError Refusal(Action change) => Assert.Throws<ServiceException>(change).Error;
}
