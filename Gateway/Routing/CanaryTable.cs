using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Registry.V1;
using MsSwift.ServiceDefaults;

namespace MsSwift.Gateway.Routing;

/// <summary>
/// The canaries the registry has set (model -> version and traffic share), re-read every
/// <see cref="GatewayOptions.CanaryRefreshSeconds"/> with <c>ListCanaries</c>, page by page, so the
/// read stays small however many models and versions the registry holds. If the registry cannot be
/// reached, the last table stays in force (a registry outage must not move traffic) and the wait
/// before the next attempt doubles from twice the period up to 30 s (with jitter, <see cref="Backoff"/>).
/// </summary>
internal sealed partial class CanaryTable(
    ModelRegistry.ModelRegistryClient registry, IOptions<GatewayOptions> options, TimeProvider time, ILogger<CanaryTable> logger) : BackgroundService
{
    private static readonly TimeSpan PageDeadline = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private volatile FrozenDictionary<string, Canary> _canaries = FrozenDictionary<string, Canary>.Empty;

    public IReadOnlyDictionary<string, Canary> Current => _canaries;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.CanaryRefreshSeconds);
        var backoff = new Backoff(period * 2, period > MaxBackoff ? period : MaxBackoff);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = period;
            try
            {
                _canaries = await ReadAsync(stoppingToken);
                if (failures > 0)
                {
                    LogRefreshRecovered(logger, failures);
                }

                failures = 0;
            }
            catch (Exception error) when (error is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                failures++;
                wait = backoff.Delay(failures);
                LogRefreshFailed(logger, failures, wait, error.Message);
            }

            await Task.Delay(wait, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Every page; the table is replaced only once all of them arrived.</summary>
    private async Task<FrozenDictionary<string, Canary>> ReadAsync(CancellationToken cancellationToken)
    {
        var canaries = new Dictionary<string, Canary>(StringComparer.Ordinal);
        var request = new ListCanariesRequest();
        do
        {
            var page = await registry.ListCanariesAsync(request, deadline: time.GetUtcNow().UtcDateTime + PageDeadline, cancellationToken: cancellationToken);
            foreach (var entry in page.Canaries)
            {
                canaries[entry.Model] = entry.Canary;
            }

            // Tokens only move forward: a registry that repeats one would otherwise hold this loop.
            if (page.NextPageToken.Length > 0 && string.CompareOrdinal(page.NextPageToken, request.PageToken) <= 0)
            {
                throw new InvalidOperationException($"the registry's canary listing did not advance past '{request.PageToken}'");
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        return canaries.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read canaries from the registry (failure {Failures} in a row: {Reason}); keeping the last table, next attempt in {Delay}")]
    private static partial void LogRefreshFailed(ILogger logger, int failures, TimeSpan delay, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Read canaries from the registry again after {Failures} failed attempts")]
    private static partial void LogRefreshRecovered(ILogger logger, int failures);
}
