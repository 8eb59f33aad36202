using System.Text.Json;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// Saves and loads models as safetensors through an <see cref="ICheckpointStore"/>. The product's
/// own checkpoints carry the model config and tokenizer id in the metadata; GPT-2-layout files
/// take their config from a sibling <c>config.json</c>, as Hugging Face publishes them.
/// </summary>
public static class GptCheckpoint
{
    public static Task SaveAsync(ICheckpointStore store, string name, GptModel model, string tokenizerId, CancellationToken cancellationToken = default)
    {
        TokenizerRegistry.Create(tokenizerId); // refuse an unknown id before writing anything
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            [CheckpointMetadata.ConfigKey] = JsonSerializer.Serialize(model.Config),
            [CheckpointMetadata.TokenizerKey] = tokenizerId,
        };
        if (model.IsInt8)
        {
            metadata[CheckpointMetadata.QuantizationKey] = CheckpointMetadata.EightBitQuantization;
        }

        return store.SaveAsync(name, (stream, _) =>
        {
            SafeTensors.Write(stream, model.state_dict(), metadata);
            return Task.CompletedTask;
        }, cancellationToken);
    }

    /// <summary>Loads a checkpoint onto <paramref name="device"/> (default: <see cref="TorchRuntime.Device"/>), in eval mode.</summary>
    public static async Task<LoadedModel> LoadAsync(ICheckpointStore store, string name, Device? device = null, CancellationToken cancellationToken = default)
    {
        SafeTensorsFile file;
        await using (var stream = await store.OpenReadAsync(name, cancellationToken))
        {
            // Parsing is CPU-bound and synchronous; buffer the file so reads do not block on I/O one by one.
            var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken);
            buffer.Position = 0;
            file = SafeTensors.Read(buffer);
        }

        using (file)
        {
            GptModel model;
            ITokenizer tokenizer;
            if (file.Metadata.TryGetValue(CheckpointMetadata.ConfigKey, out var configJson))
            {
                var config = JsonSerializer.Deserialize<GptConfig>(configJson) ?? throw new InvalidDataException($"checkpoint '{name}' has an empty config");
                tokenizer = TokenizerRegistry.Create(file.Metadata.GetValueOrDefault(CheckpointMetadata.TokenizerKey, TokenizerRegistry.DefaultId));
                model = new GptModel(config, quantized: file.Metadata.GetValueOrDefault(CheckpointMetadata.QuantizationKey) == CheckpointMetadata.EightBitQuantization);
                model.load_state_dict(file.Tensors.ToDictionary(entry => entry.Key, entry => entry.Value), strict: true);
            }
            else if (HuggingFaceGpt2.LooksLikeGpt2(file))
            {
                var config = await ReadSiblingConfigAsync(store, name, cancellationToken);
                tokenizer = config.VocabSize == 256 ? new ByteTokenizer() : new Gpt2Tokenizer();
                model = HuggingFaceGpt2.Import(file, config);
            }
            else
            {
                throw new InvalidDataException($"checkpoint '{name}' has neither {CheckpointMetadata.ConfigKey} metadata nor the GPT-2 tensor layout");
            }

            if (tokenizer.VocabSize != model.Config.VocabSize)
            {
                throw new InvalidDataException($"checkpoint '{name}': tokenizer '{tokenizer.Id}' has {tokenizer.VocabSize} tokens but the model's vocabulary has {model.Config.VocabSize}");
            }

            model.to(device ?? TorchRuntime.Device);
            model.eval();
            return new LoadedModel(model, tokenizer);
        }
    }

    private static async Task<GptConfig> ReadSiblingConfigAsync(ICheckpointStore store, string name, CancellationToken cancellationToken)
    {
        var slash = name.LastIndexOf('/');
        var configName = (slash < 0 ? "" : name[..(slash + 1)]) + HuggingFaceGpt2.ConfigFileName;
        if (!await store.ExistsAsync(configName, cancellationToken))
        {
            throw new InvalidDataException($"GPT-2-layout checkpoint '{name}' needs its {HuggingFaceGpt2.ConfigFileName} beside it ('{configName}')");
        }

        await using var stream = await store.OpenReadAsync(configName, cancellationToken);
        return await JsonSerializer.DeserializeAsync<GptConfig>(stream, cancellationToken: cancellationToken)
            ?? throw new InvalidDataException($"'{configName}' is empty");
    }
}

/// <summary>A model ready to serve and the tokenizer it was trained with.</summary>
public sealed record LoadedModel(GptModel Model, ITokenizer Tokenizer) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
