using Grpc.Core;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Registry.V1;
using MsSwift.ServiceDefaults;

namespace MsSwift.Inference.Models;

/// <summary>
/// Builds this replica's production set from the registry when it starts, then again every
/// <see cref="InferenceOptions.ReconcileSeconds"/>: model events are the fast path, but a topic's
/// retention can expire (a replica started after a week without promotions would never become
/// ready from events alone) and an event can be missed or fail to apply. While the registry is
/// unreachable, or some change failed to apply, it retries with backoff instead of waiting a full period.
/// </summary>
internal sealed partial class ModelReconciler(
    ModelRegistry.ModelRegistryClient registry, ModelRollout rollout, IOptions<InferenceOptions> options, TimeProvider time, ILogger<ModelReconciler> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.ReconcileSeconds);
        for (var failures = 0; !stoppingToken.IsCancellationRequested;)
        {
            failures = await ReconcileOnceAsync(stoppingToken) ? 0 : failures + 1;
            var wait = failures == 0 ? period : Min(Backoff.Dependency.Delay(failures), period);
            try
            {
                await Task.Delay(wait, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>True when every model in the registry is applied (or was already).</summary>
    internal async Task<bool> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        ListModelsResponse listing;
        try
        {
            listing = await registry.ListModelsAsync(new ListModelsRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
        }
        catch (RpcException error) when (!cancellationToken.IsCancellationRequested)
        {
            LogRegistryUnreachable(logger, error.StatusCode, error.Status.Detail);
            return false;
        }
        catch (Exception error) when (!cancellationToken.IsCancellationRequested)
        {
            // Service discovery or the channel failing: never a reason to stop the host.
            LogRegistryUnreachable(logger, StatusCode.Unavailable, error.Message);
            return false;
        }

        var complete = true;
        foreach (var model in listing.Models)
        {
            if (rollout.NeedsReconciling(model.Name, model.Revision) && !await rollout.ReconcileAsync(model, cancellationToken))
            {
                complete = false;
            }
        }

        return complete;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the registry to reconcile ({Status}: {Detail}); retrying with backoff")]
    private static partial void LogRegistryUnreachable(ILogger logger, StatusCode status, string detail);
}
