using Microsoft.Extensions.Options;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Inference.Models;

/// <summary>
/// Loads the configured model versions when the service starts, in the background so the
/// service answers health probes meanwhile (not ready until a production version is loaded).
/// </summary>
internal sealed partial class ModelBootstrapper(
    ModelCatalog catalog, Lazy<ICheckpointStore> store, IOptions<InferenceOptions> options, ILogger<ModelBootstrapper> logger) : BackgroundService
{
    public const string DemoModel = "demo";
    public const string DemoVersion = "v1";
    public const string DemoCheckpoint = "demo/v1/model.safetensors";

    /// <summary>The demo model: small enough to load in a second on a laptop.</summary>
    public static readonly GptConfig DemoConfig = new() { Layers = 2, Heads = 4, Width = 128, ContextLength = 256, VocabSize = 256 };

    /// <summary>The last load failure, for the readiness check to report.</summary>
    public string? LastError { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var models = options.Value.Models.ToList();
        if (models.Count == 0 && options.Value.BootstrapDemoModel)
        {
            await EnsureDemoCheckpointAsync(stoppingToken);
            models.Add(new ServedModelOptions { Name = DemoModel, Version = DemoVersion, Checkpoint = DemoCheckpoint, Production = true });
        }

        foreach (var model in models)
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

    private async Task EnsureDemoCheckpointAsync(CancellationToken cancellationToken)
    {
        if (await store.Value.ExistsAsync(DemoCheckpoint, cancellationToken))
        {
            return;
        }

        manual_seed(20261128);
        using var model = new GptModel(DemoConfig);
        await GptCheckpoint.SaveAsync(store.Value, DemoCheckpoint, model, "byte", cancellationToken);
        LogDemoCreated(logger, DemoCheckpoint);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load {Model} {Version} from {Checkpoint}")]
    private static partial void LogLoadFailed(ILogger logger, string model, string version, string checkpoint, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Created an untrained demo model at {Checkpoint} (Inference:BootstrapDemoModel); its output is noise until a trained model is promoted")]
    private static partial void LogDemoCreated(ILogger logger, string checkpoint);
}
