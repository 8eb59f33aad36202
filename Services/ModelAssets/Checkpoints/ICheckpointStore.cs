namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// Where checkpoints live, shared by training (writes) and inference (reads). A checkpoint is
/// written completely and only then published under its name, so readers never see a torn file.
/// Names are relative paths such as <c>models/tiny/v3/model.safetensors</c>.
/// </summary>
public interface ICheckpointStore
{
    /// <summary>Writes through <paramref name="write"/>, then publishes atomically (replacing an older one).</summary>
    Task SaveAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default);

    /// <summary>Opens a published checkpoint; throws <see cref="CheckpointNotFoundException"/> when absent.</summary>
    Task<Stream> OpenReadAsync(string name, CancellationToken cancellationToken = default);

    Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Published names under <paramref name="prefix"/>, sorted.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix = "", CancellationToken cancellationToken = default);

    Task DeleteAsync(string name, CancellationToken cancellationToken = default);
}

public sealed class CheckpointNotFoundException(string name)
    : Exception($"checkpoint '{name}' does not exist")
{
    public string Name { get; } = name;
}
