using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Registry.V1;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// The canaries the registry has set (model -> version and traffic share), re-read every
/// <see cref="GatewayOptions.CanaryRefreshSeconds"/>. If the registry cannot be reached, the last
/// table stays in force: a registry outage must not move traffic.
/// </summary>
internal sealed partial class CanaryTable(
    ModelRegistry.ModelRegistryClient registry, IOptions<GatewayOptions> options, ILogger<CanaryTable> logger) : BackgroundService
{
    private volatile FrozenDictionary<string, Canary> _canaries = FrozenDictionary<string, Canary>.Empty;

    public IReadOnlyDictionary<string, Canary> Current => _canaries;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.CanaryRefreshSeconds));
        var failing = false;
        do
        {
            try
            {
                var models = await registry.ListModelsAsync(new ListModelsRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: stoppingToken);
                _canaries = models.Models.Where(model => model.Canary is { Percent: > 0 })
                    .ToFrozenDictionary(model => model.Name, model => model.Canary);
                failing = false;
            }
            catch (Exception error) when (error is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    LogRefreshFailed(logger, error.Message);
                }

                failing = true;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read canaries from the registry ({Reason}); keeping the last table")]
    private static partial void LogRefreshFailed(ILogger logger, string reason);
}
