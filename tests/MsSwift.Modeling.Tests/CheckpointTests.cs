using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Quantization;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class CheckpointTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("msswift-checkpoints-").FullName;
    private readonly LocalDirectoryCheckpointStore _store;

    public CheckpointTests() => _store = new LocalDirectoryCheckpointStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Save_then_load_is_bit_exact_and_keeps_config_and_tokenizer()
    {
        var config = TestModels.Tiny with { Layers = 3, ContextLength = 48 };
        using var model = TestModels.Create(config);

        await GptCheckpoint.SaveAsync(_store, "models/tiny/v1/model.safetensors", model, "byte");
        using var loaded = await GptCheckpoint.LoadAsync(_store, "models/tiny/v1/model.safetensors", CPU);

        Assert.Equal(config, loaded.Model.Config);
        Assert.Equal("byte", loaded.Tokenizer.Id);
        var saved = model.state_dict();
        var restored = loaded.Model.state_dict();
        Assert.Equal(saved.Keys.Order(), restored.Keys.Order());
        Assert.All(saved, entry => Assert.True(entry.Value.dtype == restored[entry.Key].dtype && TestModels.MaxAbsDiff(entry.Value, restored[entry.Key]) == 0, $"{entry.Key} differs"));
    }

    [Fact]
    public async Task Saving_the_same_model_twice_gives_identical_bytes()
    {
        using var model = TestModels.Create();

        await GptCheckpoint.SaveAsync(_store, "a.safetensors", model, "byte");
        await GptCheckpoint.SaveAsync(_store, "b.safetensors", model, "byte");

        Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "a.safetensors")), File.ReadAllBytes(Path.Combine(_root, "b.safetensors")));
    }

    [Fact]
    public async Task A_gpt2_layout_export_imports_to_the_same_logits()
    {
        using var model = TestModels.Create();
        await _store.SaveAsync("hf/model.safetensors", (stream, _) => { HuggingFaceGpt2.Export(stream, model); return Task.CompletedTask; });
        await _store.SaveAsync("hf/config.json", (stream, token) => System.Text.Json.JsonSerializer.SerializeAsync(stream, model.Config, cancellationToken: token));

        using var imported = await GptCheckpoint.LoadAsync(_store, "hf/model.safetensors", CPU);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var tokens = TestModels.RandomTokens(2, 32);
        var difference = TestModels.MaxAbsDiff(model.forward(tokens), imported.Model.forward(tokens));

        using var file = SafeTensors.Read(File.OpenRead(Path.Combine(_root, "hf/model.safetensors")));
        // Conv1D orientation: [inputs, outputs].
        Assert.Equal(new long[] { 64, 192 }, file.Tensors["h.0.attn.c_attn.weight"].shape);
        Assert.Equal(0.0, difference);
    }

    [Fact]
    public async Task A_gpt2_layout_checkpoint_without_its_config_is_refused_clearly()
    {
        using var model = TestModels.Create();
        await _store.SaveAsync("bare/model.safetensors", (stream, _) => { HuggingFaceGpt2.Export(stream, model); return Task.CompletedTask; });

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => GptCheckpoint.LoadAsync(_store, "bare/model.safetensors", CPU));

        Assert.Contains("needs its config.json beside it ('bare/config.json')", error.Message);
    }

    [Fact]
    public async Task An_int8_model_round_trips_through_a_checkpoint()
    {
        using var model = TestModels.Create();
        using var quantized = Int8Quantizer.Quantize(model);

        await GptCheckpoint.SaveAsync(_store, "q.safetensors", quantized, "byte");
        using var loaded = await GptCheckpoint.LoadAsync(_store, "q.safetensors", CPU);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var tokens = TestModels.RandomTokens(1, 16);

        Assert.True(loaded.Model.IsInt8);
        Assert.Equal(0.0, TestModels.MaxAbsDiff(quantized.forward(tokens), loaded.Model.forward(tokens)));
    }

    [Fact]
    public async Task A_failed_write_leaves_the_previous_checkpoint_and_no_partial_file()
    {
        using var model = TestModels.Create();
        await GptCheckpoint.SaveAsync(_store, "m/model.safetensors", model, "byte");
        var before = File.ReadAllBytes(Path.Combine(_root, "m/model.safetensors"));

        await Assert.ThrowsAsync<IOException>(() => _store.SaveAsync("m/model.safetensors", async (stream, token) =>
        {
            await stream.WriteAsync(new byte[1000], token);
            throw new IOException("disk full (simulated)");
        }));

        Assert.Equal(before, File.ReadAllBytes(Path.Combine(_root, "m/model.safetensors")));
        Assert.Equal(["m/model.safetensors"], await _store.ListAsync());
        Assert.Single(Directory.GetFiles(Path.Combine(_root, "m")));
    }

    [Fact]
    public void Truncated_safetensors_are_rejected()
    {
        using var model = TestModels.Create();
        using var buffer = new MemoryStream();
        SafeTensors.Write(buffer, model.state_dict());
        var truncated = new MemoryStream(buffer.ToArray()[..(int)(buffer.Length / 2)]);

        Assert.Throws<EndOfStreamException>(() => SafeTensors.Read(truncated));
    }
}
