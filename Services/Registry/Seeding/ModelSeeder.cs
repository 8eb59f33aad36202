using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Registry.Models;
using MsSwift.ServiceDefaults;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Seeding;

/// <summary>
/// Registers and promotes each <see cref="RegistryOptions.Seeds"/> model that has no version yet,
/// through the same rules and outbox as any registration (so inference learns of it from the
/// model event). A model that exists is left alone, whatever it holds: the seed is a first-run
/// default, never an override. Racing replicas are safe: the registration commits on revision 0,
/// so one wins and the other sees a conflict and stops.
/// </summary>
internal sealed partial class ModelSeeder(
    RegistryService registry, Lazy<ICheckpointStore> store, IOptions<RegistryOptions> options, TimeProvider time, ILogger<ModelSeeder> logger) : BackgroundService
{
    public const string CheckpointFile = "model.safetensors";
    public const string VersionFile = "version.json";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var seed in options.Value.Seeds)
        {
            // Redis or the checkpoint store may be restarting: wait it out; a refused seed (bad
            // files, a name the rules reject) is logged once and skipped.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await SeedAsync(seed, stoppingToken);
                    break;
                }
                catch (ServiceException error) when (error.Error is ServiceError.Conflict or ServiceError.StaleRevision or ServiceError.AlreadyExists && attempt < 5)
                {
                    // A racing replica changed the model: look again (it may still need promoting).
                    LogRetrying(logger, seed.Model, attempt, error.Message);
                }
                catch (Exception error) when (error is ServiceException or IOException or InvalidProtocolBufferException)
                {
                    LogFailed(logger, seed.Model, seed.Directory, error);
                    break;
                }
                catch (Exception error) when (error is not OperationCanceledException)
                {
                    LogRetrying(logger, seed.Model, attempt, error.Message);
                    if (!await Backoff.Dependency.WaitAsync(attempt, time, stoppingToken))
                    {
                        return;
                    }
                }
            }
        }
    }

    private async Task SeedAsync(ModelSeedOptions seed, CancellationToken cancellationToken)
    {
        var existing = (await registry.ListAsync()).FirstOrDefault(model => model.Name == seed.Model);
        var registered = existing?.Versions.Any(version => version.Version == seed.Version) == true ? existing : null;
        if (existing is { Versions.Count: > 0 } && registered is null)
        {
            return;
        }

        registered ??= await RegisterAsync(seed, cancellationToken);

        // Registered but never promoted (a crash between the two commits): finish the seed.
        if (registered.ProductionVersion.Length == 0)
        {
            await registry.PromoteAsync(seed.Model, seed.Version, registered.Revision, cancellationToken);
            LogSeeded(logger, seed.Model, seed.Version, seed.Directory);
        }
    }

    private async Task<RegisteredModel> RegisterAsync(ModelSeedOptions seed, CancellationToken cancellationToken)
    {
        var recorded = await ReadRecordedVersionAsync(seed.Directory, cancellationToken);
        var file = Path.Combine(seed.Directory, CheckpointFile);
        // Named by content: a changed bundled file never reuses an older copy left in the store.
        var checkpoint = $"seeds/{seed.Model}/{seed.Version}-{await ShortHashAsync(file, cancellationToken)}/{CheckpointFile}";
        if (!await store.Value.ExistsAsync(checkpoint, cancellationToken))
        {
            await using var source = File.OpenRead(file);
            await store.Value.SaveAsync(checkpoint, (target, token) => source.CopyToAsync(target, token), cancellationToken);
        }

        var request = new RegisterVersionRequest
        {
            Model = seed.Model,
            Version = seed.Version,
            Checkpoint = checkpoint,
            SourceJob = recorded?.SourceJob ?? "",
            DatasetHash = recorded?.DatasetHash ?? "",
        };
        if (recorded is not null)
        {
            request.Metrics.Add(recorded.Metrics);
        }

        return await registry.RegisterAsync(request, cancellationToken);
    }

    private static async Task<string> ShortHashAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken))[..12];
    }

    private static async Task<ModelVersion?> ReadRecordedVersionAsync(string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, VersionFile);
        return File.Exists(path)
            ? JsonParser.Default.Parse<ModelVersion>(await File.ReadAllTextAsync(path, cancellationToken))
            : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded model {Model} {Version} from {Directory} and promoted it (Registry:Seeds)")]
    private static partial void LogSeeded(ILogger logger, string model, string version, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Seeding model {Model} failed (attempt {Attempt}), retrying: {Reason}")]
    private static partial void LogRetrying(ILogger logger, string model, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not seed model {Model} from {Directory}")]
    private static partial void LogFailed(ILogger logger, string model, string directory, Exception error);
}
