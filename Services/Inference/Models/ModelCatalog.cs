using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using MsSwift.Inference.Serving;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Generation.Scheduling;
using MsSwift.Modeling.Quantization;
using MsSwift.ServiceDefaults;

namespace MsSwift.Inference.Models;

/// <summary>
/// The model versions this replica has loaded, and which one of each model is in production.
/// Lookups read an immutable snapshot, so a promotion switches every new request at once while
/// requests already running keep the version they started on; an unloaded version drains first.
/// </summary>
public sealed partial class ModelCatalog(Lazy<ICheckpointStore> store, IOptions<InferenceOptions> options, BatcherMetrics metrics, ILogger<ModelCatalog> logger) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _loading = new(1, 1);
    private ImmutableDictionary<string, ImmutableDictionary<string, ServedModel>> _versions = ImmutableDictionary<string, ImmutableDictionary<string, ServedModel>>.Empty;
    private ImmutableDictionary<string, string> _production = ImmutableDictionary<string, string>.Empty;
    private ImmutableDictionary<(string Model, string Version), string> _faulted = ImmutableDictionary<(string Model, string Version), string>.Empty;
    private readonly CancellationTokenSource _shutdown = new();

    /// <summary>True once some model has a production version.</summary>
    public bool IsReady => !_production.IsEmpty;

    public string DefaultModel => options.Value.DefaultModel;

    /// <summary>(model, version, is production) for every loaded version.</summary>
    public IReadOnlyList<(string Model, string Version, bool Production)> Loaded()
    {
        var versions = _versions;
        var production = _production;
        return versions.SelectMany(model => model.Value.Keys.Select(version =>
            (model.Key, version, production.GetValueOrDefault(model.Key) == version))).OrderBy(entry => entry.Key).ThenBy(entry => entry.version).ToList();
    }

    public bool IsProduction(string model, string version) => _production.GetValueOrDefault(model) == version;

    /// <summary>Loads a version from the checkpoint store next to the ones already loaded (no-op if loaded).</summary>
    public async Task<ServedModel> LoadAsync(string model, string version, string checkpoint, CancellationToken cancellationToken = default)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            if (_versions.GetValueOrDefault(model)?.GetValueOrDefault(version) is { } existing)
            {
                return existing;
            }

            var served = await CreateAsync(model, version, checkpoint, cancellationToken);
            lock (_gate)
            {
                _versions = _versions.SetItem(model, (_versions.GetValueOrDefault(model) ?? ImmutableDictionary<string, ServedModel>.Empty).SetItem(version, served));
            }

            // Watched only once it is in the catalog, so a fault at once is seen as the current version's.
            _ = RestartWhenFaultedAsync(served, restarts: 0);
            return served;
        }
        finally
        {
            _loading.Release();
        }
    }

    /// <summary>Versions whose engine failed and that are being reloaded, with the reason.</summary>
    public IReadOnlyDictionary<(string Model, string Version), string> Faulted => _faulted;

    private async Task<ServedModel> CreateAsync(string model, string version, string checkpoint, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        // Reading and building the model is CPU-bound: keep it off request threads.
        var loaded = await Task.Run(() => GptCheckpoint.LoadAsync(store.Value, checkpoint, cancellationToken: cancellationToken), cancellationToken);
        var settings = options.Value;
        if (settings.Int8Models.Contains(model) && !loaded.Model.IsInt8)
        {
            // The fp32 copy is freed at once: only the int8 weights stay in memory.
            var full = loaded;
            try
            {
                loaded = new LoadedModel(Int8Quantizer.Quantize(full.Model), full.Tokenizer);
            }
            finally
            {
                full.Dispose();
            }
        }

        var batcher = new ContinuousBatcher(loaded.Model, loaded.Tokenizer, new BatcherOptions
        {
            MaxBatchSize = settings.MaxBatchSize,
            MaxQueueSize = settings.MaxQueueSize,
            MaxQueueDelay = TimeSpan.FromMilliseconds(settings.MaxQueueDelayMs),
            Adaptive = settings.Scheduler == "adaptive",
            Targets = Targets(settings, model),
            PrefixCacheBytes = (long)settings.PrefixCacheMegabytes << 20,
        }, metrics, new TagList { { "model", model }, { "version", version } });
        var served = new ServedModel(model, version, checkpoint, loaded, batcher);
        var elapsedMs = TimeProvider.System.GetElapsedTime(started).TotalMilliseconds;
        var weightBytes = loaded.Model.WeightBytes();
        var precision = loaded.Model.IsInt8 ? "int8" : loaded.Model.DType.ToString();
        LogLoaded(logger, model, version, checkpoint, precision, weightBytes, elapsedMs);
        return served;
    }

    private static LatencyTargets Targets(InferenceOptions settings, string model) =>
        settings.LatencyTargets.TryGetValue(model, out var targets)
            ? new LatencyTargets
            {
                MaxTimeToFirstToken = targets.MaxTimeToFirstTokenMs > 0 ? TimeSpan.FromMilliseconds(targets.MaxTimeToFirstTokenMs) : null,
                TargetInterTokenLatency = targets.TargetInterTokenLatencyMs > 0 ? TimeSpan.FromMilliseconds(targets.TargetInterTokenLatencyMs) : null,
            }
            : LatencyTargets.None;

    /// <summary>
    /// When a version's engine faults (its requests have already failed), the version is reported
    /// unhealthy, its weights are freed (on a GPU, the memory the reload needs), and it is loaded
    /// again from its checkpoint, retrying with backoff, then swapped in for the dead one unless
    /// the version was unloaded meanwhile. An engine that faults again after a reload waits longer
    /// before the next one (<paramref name="restarts"/> carries over).
    /// </summary>
    private async Task RestartWhenFaultedAsync(ServedModel dead, int restarts)
    {
        await dead.Batcher.Stopped;
        if (dead.Batcher.Fault is not { } fault || _shutdown.IsCancellationRequested || !IsCurrent(dead))
        {
            return;
        }

        var key = (dead.Name, dead.Version);
        ImmutableInterlocked.Update(ref _faulted, faulted => faulted.SetItem(key, fault.Message));
        LogEngineFaulted(logger, dead.Name, dead.Version, fault);
        dead.FreeModel();
        var replaced = false;
        for (var attempt = restarts + 1; !replaced && !_shutdown.IsCancellationRequested && IsCurrent(dead); attempt++)
        {
            if (attempt > 1 && !await Backoff.Dependency.WaitAsync(attempt - 1, TimeProvider.System, _shutdown.Token))
            {
                break;
            }

            try
            {
                replaced = await ReloadAsync(dead, attempt);
            }
            catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
            {
                break;
            }
            catch (Exception error)
            {
                LogRestartFailed(logger, dead.Name, dead.Version, attempt, error);
            }
        }

        ImmutableInterlocked.Update(ref _faulted, faulted => faulted.Remove(key));
        if (replaced)
        {
            await dead.DisposeAsync();
        }
    }

    /// <summary>Loads a fresh copy of a dead version and swaps it in; false when the version left the catalog meanwhile.</summary>
    private async Task<bool> ReloadAsync(ServedModel dead, int restarts)
    {
        await _loading.WaitAsync(_shutdown.Token);
        try
        {
            var fresh = await CreateAsync(dead.Name, dead.Version, dead.Checkpoint, _shutdown.Token);
            if (!Replace(dead, fresh))
            {
                await fresh.DisposeAsync();
                return false;
            }

            _ = RestartWhenFaultedAsync(fresh, restarts);
            return true;
        }
        finally
        {
            _loading.Release();
        }
    }

    private bool IsCurrent(ServedModel served) => _versions.GetValueOrDefault(served.Name)?.GetValueOrDefault(served.Version) == served;

    private bool Replace(ServedModel dead, ServedModel fresh)
    {
        lock (_gate)
        {
            if (!IsCurrent(dead))
            {
                return false;
            }

            _versions = _versions.SetItem(dead.Name, _versions[dead.Name].SetItem(dead.Version, fresh));
            return true;
        }
    }

    /// <summary>Makes a loaded version the production one; returns the version it replaced, if any.</summary>
    public string? Promote(string model, string version)
    {
        lock (_gate)
        {
            if (_versions.GetValueOrDefault(model)?.ContainsKey(version) != true)
            {
                throw NotFound(model, version);
            }

            var previous = _production.GetValueOrDefault(model);
            _production = _production.SetItem(model, version);
            LogPromoted(logger, model, version, previous ?? "(none)");
            return previous == version ? null : previous;
        }
    }

    /// <summary>Stops routing to a version, lets its requests finish, then frees it. The production version cannot be unloaded.</summary>
    public async Task UnloadAsync(string model, string version)
    {
        ServedModel? served;
        lock (_gate)
        {
            if (_production.GetValueOrDefault(model) == version)
            {
                throw new InvalidOperationException($"version '{version}' of '{model}' is in production; promote another version first");
            }

            served = _versions.GetValueOrDefault(model)?.GetValueOrDefault(version);
            if (served is null)
            {
                return;
            }

            _versions = _versions.SetItem(model, _versions[model].Remove(version));
        }

        await served.DisposeAsync();
        LogUnloaded(logger, model, version);
    }

    /// <summary>
    /// The version a request names, or the model's production version when it names none.
    /// Throws <see cref="ModelNotFoundException"/> listing what is available.
    /// </summary>
    /// <param name="model">The model's name; empty means the default model.</param>
    /// <param name="version">The version; empty means production, or the canary <paramref name="pins"/> drew for this model when it is loaded here.</param>
    /// <param name="pins">The gateway's canary draw for this request.</param>
    public ServedModel Resolve(string? model, string? version, VersionPins? pins = null)
    {
        model = string.IsNullOrEmpty(model) ? DefaultModel : model;
        var versions = _versions.GetValueOrDefault(model);
        if (versions is null || versions.IsEmpty)
        {
            throw new ModelNotFoundException($"unknown model '{model}'; available models: {Join(_versions.Where(entry => !entry.Value.IsEmpty).Select(entry => entry.Key))}");
        }

        if (string.IsNullOrEmpty(version) && pins?.For(model) is { } pinned && versions.TryGetValue(pinned, out var canary))
        {
            return canary;
        }

        if (string.IsNullOrEmpty(version))
        {
            version = _production.GetValueOrDefault(model)
                ?? throw new ModelNotFoundException($"model '{model}' has no production version; available versions: {Join(versions.Keys)}");
        }

        return versions.GetValueOrDefault(version) ?? throw NotFound(model, version);
    }

    public async ValueTask DisposeAsync()
    {
        await _shutdown.CancelAsync();
        List<ServedModel> all;
        lock (_gate)
        {
            all = _versions.Values.SelectMany(versions => versions.Values).ToList();
            _versions = _versions.Clear();
            _production = _production.Clear();
        }

        foreach (var served in all)
        {
            await served.Batcher.DisposeAsync();
            served.FreeModel();
        }
    }

    private ModelNotFoundException NotFound(string model, string version) =>
        new($"model '{model}' has no version '{version}'; available versions: {Join(_versions.GetValueOrDefault(model)?.Keys ?? [])}");

    private static string Join(IEnumerable<string> names)
    {
        var sorted = names.Order(StringComparer.Ordinal).ToList();
        return sorted.Count == 0 ? "(none)" : string.Join(", ", sorted);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Model} {Version} from {Checkpoint} ({Precision}, {WeightBytes} bytes of weights) in {ElapsedMs:F0} ms")]
    private static partial void LogLoaded(ILogger logger, string model, string version, string checkpoint, string precision, long weightBytes, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "The engine of {Model} {Version} failed; its requests were failed and it is being reloaded")]
    private static partial void LogEngineFaulted(ILogger logger, string model, string version, Exception error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reloading {Model} {Version} failed (attempt {Attempt}); retrying with backoff")]
    private static partial void LogRestartFailed(ILogger logger, string model, string version, int attempt, Exception error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Promoted {Model} {Version} to production (was {Previous})")]
    private static partial void LogPromoted(ILogger logger, string model, string version, string previous);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unloaded {Model} {Version} after its requests finished")]
    private static partial void LogUnloaded(ILogger logger, string model, string version);
}
