using System.Collections.Concurrent;
using MsSwift.Contracts.V1;
using MsSwift.Contracts.Registry.V1;

namespace MsSwift.Inference.Models;

/// <summary>
/// Applies the registry's changes to this replica's <see cref="ModelCatalog"/>, from model events
/// and from reconciling with the registry, in revision order per model: a change at or below the
/// revision last applied is ignored, so a late, replayed or swept-again event cannot undo a newer
/// one. A change whose version fails to load marks the model as behind, so the next
/// reconciliation applies the registry's whole record again, whatever came after it. Promotion loads the version beside the current one, switches
/// to it atomically, then unloads the old one once its requests have finished.
/// </summary>
public sealed partial class ModelRollout(ModelCatalog catalog, ILogger<ModelRollout> logger)
{
    private readonly ConcurrentDictionary<string, long> _applied = new();
    // Models with a change that failed to apply: a later change must not hide it from reconciliation.
    private readonly ConcurrentDictionary<string, bool> _behind = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new();

    /// <summary>The revision last applied for <paramref name="model"/> (0 before any).</summary>
    public long AppliedRevision(string model) => _applied.GetValueOrDefault(model);

    /// <summary>True when <paramref name="revision"/> of the registry's record still has to be applied to this replica.</summary>
    public bool NeedsReconciling(string model, long revision) => revision > AppliedRevision(model) || _behind.ContainsKey(model);

    /// <summary>Applies one event; false when it was stale or could not be applied.</summary>
    public Task<bool> ApplyAsync(ModelEvent modelEvent, CancellationToken cancellationToken) =>
        ChangeAsync(modelEvent.Model, modelEvent.Revision, $"{modelEvent.Type} {modelEvent.Version}", reconciling: false, async () =>
        {
            switch (modelEvent.Type)
            {
                case ModelEventType.Promoted or ModelEventType.RolledBack:
                    await PromoteAsync(modelEvent.Model, modelEvent.Version, modelEvent.Checkpoint, cancellationToken);
                    break;
                case ModelEventType.CanarySet when modelEvent.CanaryPercent > 0:
                    await catalog.LoadAsync(modelEvent.Model, modelEvent.Version, modelEvent.Checkpoint, cancellationToken);
                    break;
                case ModelEventType.CanarySet when !catalog.IsProduction(modelEvent.Model, modelEvent.Version):
                    // Canary cleared: the version stops getting traffic, so free it.
                    await catalog.UnloadAsync(modelEvent.Model, modelEvent.Version);
                    break;
                case ModelEventType.Archived or ModelEventType.Deleted:
                    await catalog.UnloadAsync(modelEvent.Model, modelEvent.Version);
                    break;
            }
        }, cancellationToken);

    /// <summary>Brings the model to the registry's record: its production version and canary loaded, nothing else.</summary>
    public Task<bool> ReconcileAsync(RegisteredModel model, CancellationToken cancellationToken) =>
        ChangeAsync(model.Name, model.Revision, "reconcile", reconciling: true, async () =>
        {
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            if (model.ProductionVersion is { Length: > 0 } production && Checkpoint(model, production) is { } checkpoint)
            {
                await PromoteAsync(model.Name, production, checkpoint, cancellationToken);
                wanted.Add(production);
            }

            if (model.Canary is { Percent: > 0 } canary && Checkpoint(model, canary.Version) is { } canaryCheckpoint)
            {
                await catalog.LoadAsync(model.Name, canary.Version, canaryCheckpoint, cancellationToken);
                wanted.Add(canary.Version);
            }

            foreach (var (name, version, isProduction) in catalog.Loaded())
            {
                if (name == model.Name && !wanted.Contains(version) && !isProduction)
                {
                    await catalog.UnloadAsync(name, version);
                }
            }
        }, cancellationToken);

    /// <summary>Applies one change of <paramref name="model"/> at <paramref name="revision"/>, in order with its other changes.</summary>
    /// <param name="model">The model the change is for.</param>
    /// <param name="revision">The registry revision the change brings the model to.</param>
    /// <param name="change">What the change is, for the log.</param>
    /// <param name="reconciling">
    /// A reconciliation applies the whole record, so it may apply the revision already recorded
    /// when an earlier change failed; an event only applies a revision newer than the last.
    /// </param>
    /// <param name="apply">Does the change.</param>
    /// <param name="cancellationToken">Stops waiting for the model's earlier changes.</param>
    private async Task<bool> ChangeAsync(string model, long revision, string change, bool reconciling, Func<Task> apply, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(model, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            // Revision 0: an event from before revisions were carried; always applied.
            var applied = AppliedRevision(model);
            if (revision > 0 && revision <= applied && !(reconciling && _behind.ContainsKey(model)))
            {
                LogStale(logger, model, change, revision, applied);
                return false;
            }

            await apply();
            if (revision > 0)
            {
                _applied[model] = Math.Max(revision, applied);
            }

            if (reconciling)
            {
                _behind.TryRemove(model, out _);
            }

            LogApplied(logger, model, change, revision);
            return true;
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            // A store timeout is an OperationCanceledException too: it fails this change, not the service.
            _behind[model] = true;
            if (revision > 0)
            {
                _applied[model] = Math.Max(revision, AppliedRevision(model));
            }

            LogNotApplied(logger, model, change, revision, error);
            return false;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task PromoteAsync(string model, string version, string checkpoint, CancellationToken cancellationToken)
    {
        await catalog.LoadAsync(model, version, checkpoint, cancellationToken);
        if (catalog.Promote(model, version) is { } previous)
        {
            await catalog.UnloadAsync(model, previous);
        }
    }

    private static string? Checkpoint(RegisteredModel model, string version) =>
        model.Versions.FirstOrDefault(entry => entry.Version == version)?.Checkpoint is { Length: > 0 } checkpoint ? checkpoint : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied {Change} of {Model} at revision {Revision}")]
    private static partial void LogApplied(ILogger logger, string model, string change, long revision);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ignored {Change} of {Model} at revision {Revision}: revision {Applied} is applied already")]
    private static partial void LogStale(ILogger logger, string model, string change, long revision, long applied);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Change} of {Model} at revision {Revision} not applied; the current version keeps serving and reconciliation retries it")]
    private static partial void LogNotApplied(ILogger logger, string model, string change, long revision, Exception error);
}
