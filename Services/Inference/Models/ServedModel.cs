using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Models;

/// <summary>One loaded model version and the batcher that runs its requests.</summary>
public sealed class ServedModel(string name, string version, string checkpoint, LoadedModel loaded, ContinuousBatcher batcher) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string Version { get; } = version;

    /// <summary>Where it was loaded from, so a faulted engine can be reloaded.</summary>
    public string Checkpoint { get; } = checkpoint;

    public LoadedModel Loaded { get; } = loaded;

    public ContinuousBatcher Batcher { get; } = batcher;

    /// <summary>Lets queued and running requests finish (a faulted engine has failed them already), then frees the model.</summary>
    public async ValueTask DisposeAsync()
    {
        await Batcher.DrainAsync();
        await Batcher.DisposeAsync();
        Loaded.Dispose();
    }
}

/// <summary>A model or version that is not loaded; the message lists what is.</summary>
public sealed class ModelNotFoundException(string message) : Exception(message);
