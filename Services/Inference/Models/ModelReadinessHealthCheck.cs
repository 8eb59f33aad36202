using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MsSwift.Inference.Models;

/// <summary>Ready only when some model has a production version to serve.</summary>
internal sealed class ModelReadinessHealthCheck(ModelCatalog catalog, ModelBootstrapper bootstrapper) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(catalog.IsReady
            ? HealthCheckResult.Healthy(string.Join(", ", catalog.Loaded().Select(entry => $"{entry.Model} {entry.Version}{(entry.Production ? " (production)" : "")}")))
            : HealthCheckResult.Unhealthy(bootstrapper.LastError ?? "no model loaded yet"));
}
