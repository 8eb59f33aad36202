using Microsoft.Extensions.Options;

namespace MsSwift.Inference.Models;

/// <summary>
/// Loads the configured model versions when the service starts, in the background so the
/// service answers health probes meanwhile (not ready until a production version is loaded).
/// </summary>
internal sealed partial class ModelBootstrapper(
    ModelCatalog catalog, IOptions<InferenceOptions> options, ILogger<ModelBootstrapper> logger) : BackgroundService
{
    /// <summary>The last load failure, for the readiness check to report.</summary>
    public string? LastError { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var model in options.Value.Models)
        {
            try
            {
                await catalog.LoadAsync(model.Name, model.Version, model.Checkpoint, stoppingToken);
                if (model.Production)
                {
                    catalog.Promote(model.Name, model.Version);
                }
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LastError = $"loading {model.Name} {model.Version} from '{model.Checkpoint}' failed: {error.Message}";
                LogLoadFailed(logger, model.Name, model.Version, model.Checkpoint, error);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load {Model} {Version} from {Checkpoint}")]
    private static partial void LogLoadFailed(ILogger logger, string model, string version, string checkpoint, Exception error);

}
