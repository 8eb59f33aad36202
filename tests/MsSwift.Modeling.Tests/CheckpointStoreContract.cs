using System.Text;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Testing;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

/// <summary>What every <see cref="ICheckpointStore"/> promises, run against each real backend.</summary>
public abstract class CheckpointStoreContract
{
    protected abstract ICheckpointStore Store { get; }

    [Fact]
    public async Task Saved_checkpoints_read_back_list_by_prefix_and_delete()
    {
        await SaveTextAsync("jobs/a/step-2.bin", "two");
        await SaveTextAsync("jobs/a/step-10.bin", "ten");
        await SaveTextAsync("jobs/b/step-1.bin", "one");
        await SaveTextAsync("jobs/a/step-2.bin", "two, again");

        var listed = await Store.ListAsync("jobs/a/");
        var text = await ReadTextAsync("jobs/a/step-2.bin");
        await Store.DeleteAsync("jobs/a/step-10.bin");

        Assert.Equal(["jobs/a/step-10.bin", "jobs/a/step-2.bin"], listed);
        Assert.Equal("two, again", text);
        Assert.False(await Store.ExistsAsync("jobs/a/step-10.bin"));
        Assert.True(await Store.ExistsAsync("jobs/b/step-1.bin"));
        Assert.Equal(["jobs/a/step-2.bin", "jobs/b/step-1.bin"], await Store.ListAsync("jobs/"));
    }

    [Fact]
    public async Task A_failed_write_leaves_the_previous_checkpoint_in_place()
    {
        await SaveTextAsync("m/latest.bin", "good");

        await Assert.ThrowsAsync<IOException>(() => Store.SaveAsync("m/latest.bin", async (stream, token) =>
        {
            await stream.WriteAsync(new byte[1000], token);
            throw new IOException("disk full (simulated)");
        }));

        Assert.Equal("good", await ReadTextAsync("m/latest.bin"));
        Assert.Equal(["m/latest.bin"], await Store.ListAsync("m/"));
    }

    [Fact]
    public async Task Missing_checkpoints_and_escaping_names_get_clear_errors()
    {
        var missing = await Assert.ThrowsAsync<CheckpointNotFoundException>(() => Store.OpenReadAsync("nope/model.safetensors"));
        var escaping = await Assert.ThrowsAsync<ArgumentException>(() => Store.OpenReadAsync("../etc/passwd"));
        var empty = await Assert.ThrowsAsync<ArgumentException>(() => Store.ExistsAsync("a//b"));

        Assert.Equal("checkpoint 'nope/model.safetensors' does not exist", missing.Message);
        Assert.Contains("without '.' or '..'", escaping.Message);
        Assert.Contains("non-empty segments", empty.Message);
        Assert.False(await Store.ExistsAsync("nope/model.safetensors"));
    }

    [Fact]
    public async Task A_model_saved_to_the_store_loads_with_identical_logits()
    {
        using var model = TestModels.Create();
        await GptCheckpoint.SaveAsync(Store, "models/tiny/v1/model.safetensors", model, "byte");

        using var loaded = await GptCheckpoint.LoadAsync(Store, "models/tiny/v1/model.safetensors", CPU);
        using var tokens = TestModels.RandomTokens(2, 12);

        Assert.Equal(0.0, TestModels.MaxAbsDiff(model.forward(tokens), loaded.Model.forward(tokens)));
    }

    private Task SaveTextAsync(string name, string text) =>
        Store.SaveAsync(name, (stream, token) => stream.WriteAsync(Encoding.UTF8.GetBytes(text), token).AsTask());

    private async Task<string> ReadTextAsync(string name)
    {
        await using var stream = await Store.OpenReadAsync(name);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}

[Collection(TorchSerialGroup.Name)]
public sealed class LocalDirectoryCheckpointStoreTests : CheckpointStoreContract, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("msswift-store-").FullName;

    public LocalDirectoryCheckpointStoreTests() => Store = new LocalDirectoryCheckpointStore(_root);

    protected override ICheckpointStore Store { get; }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

/// <summary>The S3 backend against a real S3-compatible server (s3rver), under a key prefix.</summary>
[Collection(TorchSerialGroup.Name)]
public sealed class S3CheckpointStoreTests : CheckpointStoreContract, IAsyncLifetime
{
    private S3Server _server = null!;
    private ICheckpointStore _store = null!;

    protected override ICheckpointStore Store => _store;

    public async Task InitializeAsync()
    {
        _server = await S3Server.StartAsync();
        _store = new S3CheckpointStoreOptions
        {
            ServiceUrl = _server.ServiceUrl,
            Bucket = _server.Bucket,
            Prefix = "msswift/checkpoints",
            AccessKey = S3Server.AccessKey,
            SecretKey = S3Server.SecretKey,
        }.CreateStore();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task The_first_save_into_a_fresh_object_store_creates_the_missing_bucket()
    {
        var store = new S3CheckpointStoreOptions
        {
            ServiceUrl = _server.ServiceUrl,
            Bucket = "created-by-the-first-save",
            AccessKey = S3Server.AccessKey,
            SecretKey = S3Server.SecretKey,
        }.CreateStore();

        await store.SaveAsync("jobs/a/step-1.bin", (stream, token) => stream.WriteAsync("one"u8.ToArray(), token).AsTask());

        await using var read = await store.OpenReadAsync("jobs/a/step-1.bin");
        Assert.Equal("one", await new StreamReader(read).ReadToEndAsync());
        // The bucket the server started with is untouched.
        Assert.Empty(await Store.ListAsync("jobs/"));
    }
}
