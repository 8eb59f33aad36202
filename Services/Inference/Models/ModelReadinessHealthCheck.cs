using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MsSwift.Inference.Models;

/// <summary>
/// Ready only when some model has a production version to serve and no production version's
/// engine has failed (it is being reloaded meanwhile); a failed canary makes it Degraded.
/// </summary>
internal sealed class ModelReadinessHealthCheck(ModelCatalog catalog, ModelBootstrapper bootstrapper) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!catalog.IsReady)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(bootstrapper.LastError ?? "no model loaded yet"));
        }

        var faulted = catalog.Faulted;
        if (faulted.Count > 0)
        {
            var description = "engine failed, reloading: " + string.Join("; ", faulted.Select(entry => $"{entry.Key.Model} {entry.Key.Version} ({entry.Value})"));
            var production = faulted.Keys.Any(key => catalog.IsProduction(key.Model, key.Version));
            return Task.FromResult(production ? HealthCheckResult.Unhealthy(description) : HealthCheckResult.Degraded(description));
        }

        return Task.FromResult(HealthCheckResult.Healthy(string.Join(", ", catalog.Loaded().Select(entry => $"{entry.Model} {entry.Version}{(entry.Production ? " (production)" : "")}"))));
    }
}
