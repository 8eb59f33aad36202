using Google.Protobuf.WellKnownTypes;
using MsSwift.Contracts;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Models;

/// <summary>
/// The registry's state machine for one model, as pure functions: each takes the current record
/// (never changed) and returns the next one and the event that announces it, or throws a
/// <see cref="ServiceException"/> saying why the change is not allowed.
/// </summary>
public static class ModelRules
{
    public static void ValidateName(string value, string field)
    {
        if (!ResourceNames.IsValid(value))
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"{field} '{value}' is not valid: use {ResourceNames.Rule}");
        }
    }

    /// <summary>
    /// Adds <paramref name="version"/>. Idempotent by source job: when the model already has a
    /// version from the same (non-empty) <see cref="ModelVersion.SourceJob"/>, the model comes back
    /// unchanged with no event, whatever the new request's checkpoint or version name, so a job
    /// that registers twice (retried, or finished again by the coordinator that took it over)
    /// still has one version; its caller finds it with <see cref="VersionOfJob"/>.
    /// </summary>
    public static (RegisteredModel Model, ModelEvent? Event) Register(RegisteredModel current, ModelVersion version, DateTimeOffset now)
    {
        if (VersionOfJob(current, version.SourceJob) is not null)
        {
            return (current, null);
        }

        if (string.IsNullOrEmpty(version.Version))
        {
            version.Version = NextVersion(current);
        }

        ValidateName(version.Version, "version");
        if (Find(current, version.Version) is not null)
        {
            throw new ServiceException(ServiceError.AlreadyExists, $"model '{current.Name}' already has version '{version.Version}'");
        }

        if (version.Stage is not (Stage.None or Stage.Staging))
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"a new version starts in stage none or staging, not {version.Stage}; promote it afterwards");
        }

        if (version.ParentVersion.Length > 0 && Find(current, version.ParentVersion) is null)
        {
            var description = $"the version of '{current.Name}' it was fine-tuned from; '{version.ParentVersion}' is not one (versions: {VersionList(current)})";
            throw new ServiceException(ServiceError.InvalidArgument, $"parent_version: {description}", [new FieldViolation("parent_version", description)]);
        }

        // One live quantized copy per version and scheme: two quantizations of one version that
        // raced both reach this rule, and the later one is refused here, in the committing change.
        if (version.Quantization.Length > 0 && QuantizedCopyOf(current, version.ParentVersion, version.Quantization) is { } copy)
        {
            throw new ServiceException(ServiceError.AlreadyExists,
                $"version '{version.ParentVersion}' of '{current.Name}' already has a {version.Quantization} copy, '{copy.Version}'; archive it to make another");
        }

        var next = Next(current, now);
        version.CreatedAt = Timestamp.FromDateTimeOffset(now);
        next.Versions.Add(version);
        return (next, Event(ModelEventType.Registered, next, version, now));
    }

    public static (RegisteredModel Model, ModelEvent Event) Promote(RegisteredModel current, string versionName, DateTimeOffset now)
    {
        var next = Next(current, now);
        var version = Existing(next, versionName);
        if (version.Stage == Stage.Archived)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"version '{versionName}' of '{current.Name}' is archived; register it again to serve it");
        }

        if (next.ProductionVersion == versionName)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"version '{versionName}' of '{current.Name}' is already in production");
        }

        if (!string.IsNullOrEmpty(next.ProductionVersion))
        {
            next.ProductionHistory.Add(next.ProductionVersion);
            Existing(next, next.ProductionVersion).Stage = Stage.None;
        }

        SetProduction(next, version);
        return (next, Event(ModelEventType.Promoted, next, version, now));
    }

    public static (RegisteredModel Model, ModelEvent Event) RollBack(RegisteredModel current, DateTimeOffset now)
    {
        if (current.ProductionHistory.Count == 0)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"model '{current.Name}' has no earlier production version to roll back to");
        }

        var next = Next(current, now);
        var previous = next.ProductionHistory[^1];
        next.ProductionHistory.RemoveAt(next.ProductionHistory.Count - 1);
        Existing(next, next.ProductionVersion).Stage = Stage.None;
        var version = Existing(next, previous);
        SetProduction(next, version);
        return (next, Event(ModelEventType.RolledBack, next, version, now));
    }

    public static (RegisteredModel Model, ModelEvent Event) SetCanary(RegisteredModel current, string versionName, int percent, DateTimeOffset now)
    {
        if (percent is < 0 or > 99)
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"percent must be between 1 and 99 (0 clears the canary), got {percent}");
        }

        var next = Next(current, now);
        if (percent == 0)
        {
            var cleared = next.Canary?.Version ?? throw new ServiceException(ServiceError.FailedPrecondition, $"model '{current.Name}' has no canary to clear");
            next.Canary = null;
            var clearedEvent = Event(ModelEventType.CanarySet, next, Existing(next, cleared), now);
            return (next, clearedEvent);
        }

        var version = Existing(next, versionName);
        if (string.IsNullOrEmpty(next.ProductionVersion))
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"model '{current.Name}' has no production version for a canary to share traffic with");
        }

        if (version.Version == next.ProductionVersion || version.Stage == Stage.Archived)
        {
            throw new ServiceException(ServiceError.FailedPrecondition,
                $"version '{versionName}' of '{current.Name}' is {StageName(version.Stage)}; a canary must be a version that is not serving yet");
        }

        next.Canary = new Canary { Version = versionName, Percent = percent };
        var canaryEvent = Event(ModelEventType.CanarySet, next, version, now);
        canaryEvent.CanaryPercent = percent;
        return (next, canaryEvent);
    }

    public static (RegisteredModel Model, ModelEvent Event) Archive(RegisteredModel current, string versionName, DateTimeOffset now)
    {
        var next = Next(current, now);
        var version = Existing(next, versionName);
        RefuseIfServing(next, versionName, "archive");
        version.Stage = Stage.Archived;
        RemoveFromHistory(next, versionName);
        return (next, Event(ModelEventType.Archived, next, version, now));
    }

    public static (RegisteredModel Model, ModelEvent Event) Delete(RegisteredModel current, string versionName, DateTimeOffset now)
    {
        var next = Next(current, now);
        var version = Existing(next, versionName);
        RefuseIfServing(next, versionName, "delete");
        next.Versions.Remove(version);
        RemoveFromHistory(next, versionName);
        return (next, Event(ModelEventType.Deleted, next, version, now));
    }

    /// <summary>The version's live (not archived) copy quantized with <paramref name="quantization"/>, if it has one.</summary>
    public static ModelVersion? QuantizedCopyOf(RegisteredModel model, string parentVersion, string quantization) =>
        parentVersion.Length == 0 ? null : model.Versions.FirstOrDefault(child =>
            child.ParentVersion == parentVersion && child.Quantization == quantization && child.Stage != Stage.Archived);

    public static ModelVersion? Find(RegisteredModel model, string version) =>
        model.Versions.FirstOrDefault(candidate => candidate.Version == version);

    /// <summary>The version training job <paramref name="sourceJob"/> registered; null for none or an empty job id.</summary>
    public static ModelVersion? VersionOfJob(RegisteredModel model, string sourceJob) =>
        sourceJob.Length == 0 ? null : model.Versions.FirstOrDefault(candidate => candidate.SourceJob == sourceJob);

    private static ModelVersion Existing(RegisteredModel model, string version) =>
        Find(model, version) ?? throw new ServiceException(ServiceError.NotFound, $"model '{model.Name}' has no version '{version}'; versions: {VersionList(model)}");

    private static string VersionList(RegisteredModel model) =>
        model.Versions.Count == 0 ? "(none)" : string.Join(", ", model.Versions.Select(candidate => candidate.Version));

    private static void RefuseIfServing(RegisteredModel model, string version, string action)
    {
        if (model.ProductionVersion == version)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"cannot {action} version '{version}' of '{model.Name}': it is in production; promote another version first");
        }

        if (model.Canary?.Version == version)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"cannot {action} version '{version}' of '{model.Name}': it is the canary; clear the canary first");
        }
    }

    private static void SetProduction(RegisteredModel model, ModelVersion version)
    {
        model.ProductionVersion = version.Version;
        version.Stage = Stage.Production;
        if (model.Canary?.Version == version.Version)
        {
            model.Canary = null;
        }
    }

    private static void RemoveFromHistory(RegisteredModel model, string version)
    {
        for (var i = model.ProductionHistory.Count - 1; i >= 0; i--)
        {
            if (model.ProductionHistory[i] == version)
            {
                model.ProductionHistory.RemoveAt(i);
            }
        }
    }

    /// <summary>v1, v2, ...: one past the highest version of that form.</summary>
    private static string NextVersion(RegisteredModel model)
    {
        var highest = model.Versions
            .Select(version => version.Version.StartsWith('v') && int.TryParse(version.Version.AsSpan(1), out var number) ? number : 0)
            .DefaultIfEmpty(0)
            .Max();
        return $"v{highest + 1}";
    }

    private static RegisteredModel Next(RegisteredModel current, DateTimeOffset now)
    {
        var next = current.Clone();
        next.Revision = current.Revision + 1;
        next.UpdatedAt = Timestamp.FromDateTimeOffset(now);
        return next;
    }

    private static ModelEvent Event(ModelEventType type, RegisteredModel model, ModelVersion version, DateTimeOffset now) => new()
    {
        EventId = Guid.NewGuid().ToString("N"),
        Type = type,
        Model = model.Name,
        Version = version.Version,
        Checkpoint = version.Checkpoint,
        OccurredAt = Timestamp.FromDateTimeOffset(now),
    };

    private static string StageName(Stage stage) => stage switch
    {
        Stage.Production => "in production",
        Stage.Archived => "archived",
        _ => "not serving",
    };
}
