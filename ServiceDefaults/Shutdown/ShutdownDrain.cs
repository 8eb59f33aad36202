using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Shutdown;

/// <summary>
/// <c>Shutdown:DrainSeconds</c> (default 0, at most 60): how long a stopping service keeps serving
/// after it reports itself unready, so that load balancers (the gateway's active health checks,
/// Kubernetes endpoints) have stopped sending it requests before its listener closes.
/// </summary>
public sealed class ShutdownOptions
{
    public const string SectionName = "Shutdown";

    [System.ComponentModel.DataAnnotations.Range(0, 60)]
    public double DrainSeconds { get; set; }

    public TimeSpan Drain => TimeSpan.FromSeconds(DrainSeconds);
}

/// <summary>
/// On SIGTERM (Ctrl+C, a Deployment scaled down, a rollout), readiness turns Unhealthy at once
/// while the service goes on serving for <see cref="ShutdownOptions.DrainSeconds"/>; only then do
/// the web server (which completes the requests in flight) and the other services stop. Liveness
/// is untouched: a draining service is not a dead one.
/// </summary>
internal sealed class ShutdownDrain(IOptions<ShutdownOptions> options, TimeProvider time) : IHostedLifecycleService, IHealthCheck
{
    private volatile bool _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        if (options.Value.Drain > TimeSpan.Zero)
        {
            await Task.Delay(options.Value.Drain, time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_draining ? HealthCheckResult.Unhealthy("shutting down: draining requests") : HealthCheckResult.Healthy());

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

internal static class ShutdownDrainExtensions
{
    public static void AddShutdownDrain(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ShutdownOptions>().BindConfiguration(ShutdownOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ShutdownDrain>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ShutdownDrain>());
        // Added to the time the host allows for stopping, so that the requests in flight keep theirs.
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) => host.ShutdownTimeout += shutdown.Value.Drain);
    }
}
