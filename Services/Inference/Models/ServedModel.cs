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

    private int _freed;

    /// <summary>Lets queued and running requests finish (a faulted engine has failed them already), then frees the model; safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        await Batcher.DrainAsync();
        await Batcher.DisposeAsync();
        FreeModel();
    }

    /// <summary>Frees the weights once; only when the engine has stopped (or never ran them).</summary>
    public void FreeModel()
    {
        if (Interlocked.Exchange(ref _freed, 1) == 0)
        {
            Loaded.Dispose();
        }
    }
}

/// <summary>A model or version that is not loaded; the message lists what is.</summary>
public sealed class ModelNotFoundException(string message) : Exception(message);
