using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Registry.Checkpoints;
using MsSwift.Registry.Events;
using MsSwift.Registry.Storage;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Models;

/// <summary>
/// The registry's operations, shared by the gRPC and HTTP front ends: read the model, apply one
/// <see cref="ModelRules"/> change, commit it if nobody else changed the model meanwhile, then
/// publish the change's event.
/// </summary>
public sealed partial class RegistryService(
    ModelStore store, CheckpointInspector checkpoints, CheckpointQuantizer quantizer, ModelEventOutbox outbox, TimeProvider time, ILogger<RegistryService> logger)
{
    public const int DefaultCanaryPageSize = 500;
    public const int MaxCanaryPageSize = 1000;

    public Task<IReadOnlyList<RegisteredModel>> ListAsync() => store.ListAsync();

    /// <summary>
    /// One page of the models that have a canary, by name, after <paramref name="pageToken"/> (the
    /// last name of the previous page). Each entry is two names and a number, so a page stays far
    /// below any message limit whatever the records hold.
    /// </summary>
    public async Task<ListCanariesResponse> ListCanariesAsync(int pageSize, string pageToken)
    {
        if (pageSize is < 0 or > MaxCanaryPageSize)
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"page_size must be between 1 and {MaxCanaryPageSize} (0 for {DefaultCanaryPageSize}), got {pageSize}");
        }

        if (pageToken.Length > 0)
        {
            ModelRules.ValidateName(pageToken, "page_token");
        }

        var size = pageSize == 0 ? DefaultCanaryPageSize : pageSize;
        // The store lists models by name; a canary index would spare reading every record, which
        // ListModels does too.
        var canaries = (await store.ListAsync())
            .Where(model => model.Canary is { Percent: > 0 } && string.CompareOrdinal(model.Name, pageToken) > 0)
            .Take(size + 1)
            .Select(model => new ModelCanary { Model = model.Name, Canary = model.Canary })
            .ToList();
        var page = new ListCanariesResponse { Canaries = { canaries.Take(size) } };
        if (canaries.Count > size)
        {
            page.NextPageToken = page.Canaries[^1].Model;
        }

        return page;
    }

    public async Task<RegisteredModel> GetAsync(string model)
    {
        ModelRules.ValidateName(model, "model");
        var record = await store.ReadAsync(model);
        return record.Revision == 0
            ? throw new ServiceException(ServiceError.NotFound, $"model '{model}' is not registered")
            : record;
    }

    public async Task<RegisteredModel> RegisterAsync(RegisterVersionRequest request, CancellationToken cancellationToken)
    {
        ModelRules.ValidateName(request.Model, "model");
        if (!string.IsNullOrEmpty(request.Version))
        {
            ModelRules.ValidateName(request.Version, "version");
        }

        if (string.IsNullOrWhiteSpace(request.Checkpoint))
        {
            throw new ServiceException(ServiceError.InvalidArgument, "checkpoint is required: the version's name in the checkpoint store");
        }

        // A job's repeated registration is answered before its checkpoint is read or its
        // expected_revision compared: the model has moved on by the job's own registration.
        if (await RegisteredByJobAsync(request) is { } registered)
        {
            return registered;
        }

        var facts = await checkpoints.InspectAsync(request.Checkpoint, cancellationToken);
        var version = new ModelVersion
        {
            Version = request.Version,
            Stage = request.Stage,
            SourceJob = request.SourceJob,
            DatasetHash = request.DatasetHash,
            Checkpoint = request.Checkpoint,
            SizeBytes = facts.SizeBytes,
            Sha256 = facts.Sha256,
            ConfigJson = facts.ConfigJson,
            Tokenizer = facts.Tokenizer,
            ParentVersion = request.ParentVersion,
            Quantization = facts.Quantization,
        };
        version.Metrics.Add(request.Metrics);
        try
        {
            return await ChangeAsync(request.Model, request.ExpectedRevision, (model, now) => ModelRules.Register(model, version, now), cancellationToken);
        }
        catch (ServiceException refused) when (refused.Error == ServiceError.Conflict && request.SourceJob.Length > 0)
        {
            // Two registrations of one job raced (a deposed leader and its successor): the winner's
            // version is this request's answer too.
            if (await RegisteredByJobAsync(request) is { } raced)
            {
                return raced;
            }

            throw;
        }
    }

    /// <summary>The model when the request's source job already registered a version of it; otherwise null.</summary>
    private async Task<RegisteredModel?> RegisteredByJobAsync(RegisterVersionRequest request)
    {
        if (request.SourceJob.Length == 0)
        {
            return null;
        }

        var current = await store.ReadAsync(request.Model);
        return ModelRules.VersionOfJob(current, request.SourceJob) is null ? null : current;
    }

    /// <summary>
    /// Registers an int8 copy of a version (see the proto's QuantizeVersion). The checkpoint is
    /// written before the version is registered; a crash in between leaves an unreferenced file that
    /// the next attempt overwrites with the same bytes.
    /// </summary>
    public async Task<RegisteredModel> QuantizeAsync(QuantizeVersionRequest request, CancellationToken cancellationToken)
    {
        ModelRules.ValidateName(request.Model, "model");
        ModelRules.ValidateName(request.Version, "version");
        var target = request.TargetVersion.Length == 0 ? $"{request.Version}-int8" : request.TargetVersion;
        ModelRules.ValidateName(target, "target_version");
        var current = await GetAsync(request.Model);
        var source = ModelRules.Find(current, request.Version)
            ?? throw new ServiceException(ServiceError.NotFound, $"model '{request.Model}' has no version '{request.Version}'");
        if (source.Quantization.Length > 0)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"version '{source.Version}' is {source.Quantization} already; quantize its parent '{source.ParentVersion}' instead");
        }

        if (Int8ChildOf(current, source.Version) is not null)
        {
            return current;
        }

        if (request.ExpectedRevision > 0 && current.Revision != request.ExpectedRevision)
        {
            throw new ServiceException(ServiceError.StaleRevision,
                $"model '{request.Model}' is at revision {current.Revision}, not the expected {request.ExpectedRevision}; re-read it and decide again");
        }

        if (ModelRules.Find(current, target) is not null)
        {
            throw new ServiceException(ServiceError.AlreadyExists, $"model '{request.Model}' already has a version '{target}'; name another target_version");
        }

        if (source.SizeBytes > CheckpointQuantizer.MaxCheckpointBytes)
        {
            throw new ServiceException(ServiceError.FailedPrecondition,
                $"version '{source.Version}' is {source.SizeBytes} bytes; the registry quantizes checkpoints of at most {CheckpointQuantizer.MaxCheckpointBytes} bytes (it holds one in memory); list the model in Inference:Int8Models to quantize it when it loads instead");
        }

        var checkpoint = $"{request.Model}/{target}/model.int8.safetensors";
        await quantizer.QuantizeAsync(source.Checkpoint, checkpoint, cancellationToken);
        var register = new RegisterVersionRequest
        {
            Model = request.Model,
            Version = target,
            Checkpoint = checkpoint,
            ParentVersion = source.Version,
            DatasetHash = source.DatasetHash,
            ExpectedRevision = request.ExpectedRevision,
        };
        try
        {
            return await RegisterAsync(register, cancellationToken);
        }
        catch (ServiceException refused) when (refused.Error is ServiceError.AlreadyExists or ServiceError.Conflict)
        {
            // Two quantizations of one version raced: the winner's version answers this one too.
            var raced = await store.ReadAsync(request.Model);
            if (Int8ChildOf(raced, source.Version) is not null)
            {
                return raced;
            }

            throw;
        }
    }

    private static ModelVersion? Int8ChildOf(RegisteredModel model, string version) =>
        ModelRules.QuantizedCopyOf(model, version, CheckpointMetadata.EightBitQuantization);

    public Task<RegisteredModel> PromoteAsync(string model, string version, long expectedRevision, CancellationToken cancellationToken) =>
        ChangeAsync(model, expectedRevision, (current, now) => ModelRules.Promote(current, version, now), cancellationToken);

    public Task<RegisteredModel> RollBackAsync(string model, long expectedRevision, CancellationToken cancellationToken) =>
        ChangeAsync(model, expectedRevision, ModelRules.RollBack, cancellationToken);

    public Task<RegisteredModel> SetCanaryAsync(string model, string version, int percent, long expectedRevision, CancellationToken cancellationToken) =>
        ChangeAsync(model, expectedRevision, (current, now) => ModelRules.SetCanary(current, version, percent, now), cancellationToken);

    public Task<RegisteredModel> ArchiveAsync(string model, string version, long expectedRevision, CancellationToken cancellationToken) =>
        ChangeAsync(model, expectedRevision, (current, now) => ModelRules.Archive(current, version, now), cancellationToken);

    public Task<RegisteredModel> DeleteAsync(string model, string version, long expectedRevision, CancellationToken cancellationToken) =>
        ChangeAsync(model, expectedRevision, (current, now) => ModelRules.Delete(current, version, now), cancellationToken);

    private async Task<RegisteredModel> ChangeAsync(
        string name, long expectedRevision, Func<RegisteredModel, DateTimeOffset, (RegisteredModel, ModelEvent?)> change, CancellationToken cancellationToken)
    {
        ModelRules.ValidateName(name, "model");
        if (expectedRevision < 0)
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"expected_revision must not be negative, got {expectedRevision}");
        }

        var current = await store.ReadAsync(name);
        if (expectedRevision > 0 && current.Revision != expectedRevision)
        {
            throw new ServiceException(ServiceError.StaleRevision,
                $"model '{name}' is at revision {current.Revision}, not the expected {expectedRevision}; re-read it and decide again");
        }

        var (next, modelEvent) = change(current, time.GetUtcNow());
        if (modelEvent is null)
        {
            // The rules found nothing to change (a repeated registration): nothing to commit or announce.
            return current;
        }

        if (!await store.CommitAsync(next, current.Revision, modelEvent))
        {
            throw new ServiceException(ServiceError.Conflict,
                $"model '{name}' was changed by another request while this one was applied (revision {current.Revision} is gone); re-read it and retry");
        }

        var type = modelEvent.Type.ToString();
        LogChanged(logger, type, name, modelEvent.Version, next.Revision);
        try
        {
            await outbox.PublishAsync(modelEvent, cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // Committed: the outbox sweep publishes it later, so the change still succeeds.
            LogPublishDeferred(logger, type, name, error);
        }

        return next;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Type} {Model} {Version}: now at revision {Revision}")]
    private static partial void LogChanged(ILogger logger, string type, string model, string version, long revision);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Type} {Model} committed, but its event could not be published yet; the outbox sweep will publish it")]
    private static partial void LogPublishDeferred(ILogger logger, string type, string model, Exception error);
}
