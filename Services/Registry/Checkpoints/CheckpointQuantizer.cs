using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Checkpoints;

/// <summary>
/// Writes the int8 copy of a checkpoint into the shared store. It runs here, in plain C#
/// (<see cref="Int8CheckpointQuantizer"/>), so the registry stays free of libtorch; one at a time,
/// because it holds the whole checkpoint in memory (four bytes per parameter, twice).
/// </summary>
public sealed class CheckpointQuantizer(Lazy<ICheckpointStore> store) : IDisposable
{
    /// <summary>The largest checkpoint quantized here: it is read into one <see cref="MemoryStream"/>, which holds at most this.</summary>
    public static long MaxCheckpointBytes => Array.MaxLength;

    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public void Dispose() => _oneAtATime.Dispose();

    public async Task QuantizeAsync(string source, string destination, CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        try
        {
            var input = new MemoryStream();
            try
            {
                await using var stream = await store.Value.OpenReadAsync(source, cancellationToken);
                await stream.CopyToAsync(input, cancellationToken);
            }
            catch (CheckpointNotFoundException)
            {
                throw new ServiceException(ServiceError.FailedPrecondition, $"checkpoint '{source}' is missing from the checkpoint store");
            }

            input.Position = 0;
            var output = new MemoryStream();
            try
            {
                // CPU-bound: off the request thread.
                await Task.Run(() => Int8CheckpointQuantizer.Quantize(input, output), cancellationToken);
            }
            catch (CheckpointAlreadyQuantizedException)
            {
                throw new ServiceException(ServiceError.FailedPrecondition, $"checkpoint '{source}' is int8 already");
            }
            catch (Exception error) when (error is InvalidDataException or EndOfStreamException)
            {
                throw new ServiceException(ServiceError.FailedPrecondition, $"checkpoint '{source}' cannot be quantized: {error.Message}");
            }

            output.Position = 0;
            await store.Value.SaveAsync(destination, (stream, token) => output.CopyToAsync(stream, token), cancellationToken);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }
}
