using System.Security.Cryptography;
using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Checkpoints;

/// <summary>What the registry records about a checkpoint, read from the store itself rather than taken on trust.</summary>
public sealed record CheckpointFacts(long SizeBytes, string Sha256, string ConfigJson, string Tokenizer, string Quantization);

/// <summary>Reads a checkpoint once from the shared store: its size, SHA-256, and the model config and tokenizer in its header.</summary>
public sealed class CheckpointInspector(Lazy<ICheckpointStore> store)
{
    public async Task<CheckpointFacts> InspectAsync(string name, CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = await store.Value.OpenReadAsync(name, cancellationToken);
        }
        catch (CheckpointNotFoundException)
        {
            throw new ServiceException(ServiceError.FailedPrecondition, $"checkpoint '{name}' does not exist in the checkpoint store; write it before registering it");
        }
        catch (ArgumentException error)
        {
            throw new ServiceException(ServiceError.InvalidArgument, $"checkpoint name '{name}' is not valid: {error.Message}");
        }

        await using (stream)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            IReadOnlyDictionary<string, string> metadata;
            try
            {
                metadata = SafeTensorsHeader.ReadMetadata(stream, bytes =>
                {
                    hash.AppendData(bytes);
                    size += bytes.Length;
                });
            }
            catch (Exception error) when (error is InvalidDataException or EndOfStreamException)
            {
                throw new ServiceException(ServiceError.FailedPrecondition, $"checkpoint '{name}' is not a safetensors file: {error.Message}");
            }

            var buffer = new byte[1 << 20];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                size += read;
            }

            return new CheckpointFacts(size, Convert.ToHexStringLower(hash.GetHashAndReset()),
                metadata.GetValueOrDefault(CheckpointMetadata.ConfigKey, ""), metadata.GetValueOrDefault(CheckpointMetadata.TokenizerKey, ""),
                metadata.GetValueOrDefault(CheckpointMetadata.QuantizationKey, ""));
        }
    }
}
