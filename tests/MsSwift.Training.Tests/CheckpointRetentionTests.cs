using System.Text;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Training.Tests;

/// <summary><see cref="CheckpointRetention"/> against the real local-directory store: which checkpoints a job keeps.</summary>
public sealed class CheckpointRetentionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("msswift-retention-").FullName;
    private readonly LocalDirectoryCheckpointStore _store;

    public CheckpointRetentionTests()
    {
        _store = new LocalDirectoryCheckpointStore(_root);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Keeps_the_newest_k_checkpoints_by_step_and_deletes_both_files_of_every_older_one()
    {
        foreach (var step in new[] { 10, 20, 30, 40, 50 })
        {
            await WriteCheckpointAsync("job-a", step, fence: 1);
        }

        var deleted = await CheckpointRetention.PruneAsync(_store, "job-a", Prefix("job-a", 50, 1), keep: 3);

        Assert.Equal(new[] { Prefix("job-a", 10, 1), Prefix("job-a", 20, 1) }, deleted);
        Assert.Equal(CheckpointFiles("job-a", (30, 1), (40, 1), (50, 1)), await _store.ListAsync("jobs/job-a/"));
    }

    [Fact]
    public async Task Orders_by_step_value_not_by_name_past_eight_digits()
    {
        await WriteCheckpointAsync("job-a", 99_999_999, fence: 1);
        await WriteCheckpointAsync("job-a", 100_000_000, fence: 1);

        await CheckpointRetention.PruneAsync(_store, "job-a", Prefix("job-a", 100_000_000, 1), keep: 1);

        Assert.Equal(CheckpointFiles("job-a", (100_000_000, 1)), await _store.ListAsync("jobs/job-a/"));
    }

    [Fact]
    public async Task Never_deletes_the_committed_checkpoint_nor_one_a_concurrent_leader_wrote_after_it()
    {
        // Fence 1 committed step 30 while its successor (fence 2) already wrote steps 30 and 40.
        await WriteCheckpointAsync("job-a", 10, fence: 1);
        await WriteCheckpointAsync("job-a", 20, fence: 1);
        await WriteCheckpointAsync("job-a", 30, fence: 1);
        await WriteCheckpointAsync("job-a", 30, fence: 2);
        await WriteCheckpointAsync("job-a", 40, fence: 2);

        var deleted = await CheckpointRetention.PruneAsync(_store, "job-a", Prefix("job-a", 30, 1), keep: 1);

        Assert.Equal(new[] { Prefix("job-a", 10, 1), Prefix("job-a", 20, 1) }, deleted);
        Assert.Equal(CheckpointFiles("job-a", (30, 1), (30, 2), (40, 2)), await _store.ListAsync("jobs/job-a/"));
    }

    [Fact]
    public async Task Leaves_other_jobs_and_names_that_are_not_checkpoints_alone()
    {
        foreach (var step in new[] { 1, 2, 3 })
        {
            await WriteCheckpointAsync("job-a", step, fence: 1);
            // A job whose id starts with the other's: a prefix match without the slash would take it.
            await WriteCheckpointAsync("job-ab", step, fence: 1);
        }

        string[] unrelated = ["jobs/job-a/notes.txt", "jobs/job-a/step-1-fence-x/model.safetensors", "jobs/job-a/exported/step-00000001-fence-1/model.safetensors", "models/job-a/v1/model.safetensors"];
        foreach (var name in unrelated)
        {
            await WriteAsync(name);
        }

        var before = await _store.ListAsync();

        var deleted = await CheckpointRetention.PruneAsync(_store, "job-a", Prefix("job-a", 3, 1), keep: 1);

        Assert.Equal(new[] { Prefix("job-a", 1, 1), Prefix("job-a", 2, 1) }, deleted);
        var expected = before.Where(name => !name.StartsWith(Prefix("job-a", 1, 1) + "/", StringComparison.Ordinal) && !name.StartsWith(Prefix("job-a", 2, 1) + "/", StringComparison.Ordinal));
        Assert.Equal(expected, await _store.ListAsync());
        Assert.All(unrelated, name => Assert.Contains(name, expected));
    }

    [Fact]
    public async Task Zero_keeps_every_checkpoint()
    {
        foreach (var step in new[] { 10, 20, 30, 40, 50 })
        {
            await WriteCheckpointAsync("job-a", step, fence: 1);
        }

        var before = await _store.ListAsync();

        var deleted = await CheckpointRetention.PruneAsync(_store, "job-a", Prefix("job-a", 50, 1), keep: 0);

        Assert.Empty(deleted);
        Assert.Equal(before, await _store.ListAsync());
    }

    [Fact]
    public async Task A_committed_prefix_of_another_job_is_refused_before_anything_is_deleted()
    {
        await WriteCheckpointAsync("job-a", 10, fence: 1);
        await WriteCheckpointAsync("job-a", 20, fence: 1);

        await Assert.ThrowsAsync<ArgumentException>(() => CheckpointRetention.PruneAsync(_store, "job-a", Prefix("job-b", 20, 1), keep: 1));

        Assert.Equal(CheckpointFiles("job-a", (10, 1), (20, 1)), await _store.ListAsync("jobs/job-a/"));
    }

    private static string Prefix(string jobId, long step, long fence) => $"jobs/{jobId}/step-{step:D8}-fence-{fence}";

    /// <summary>What the parameter server writes for one checkpoint: the model, then the optimizer state.</summary>
    private static string[] Files(string prefix) => [$"{prefix}/model.safetensors", $"{prefix}/optimizer.bin"];

    private static List<string> CheckpointFiles(string jobId, params (long Step, long Fence)[] checkpoints) =>
        checkpoints.SelectMany(checkpoint => Files(Prefix(jobId, checkpoint.Step, checkpoint.Fence))).Order(StringComparer.Ordinal).ToList();

    private async Task WriteCheckpointAsync(string jobId, long step, long fence)
    {
        foreach (var file in Files(Prefix(jobId, step, fence)))
        {
            await WriteAsync(file);
        }
    }

    private Task WriteAsync(string name) =>
        _store.SaveAsync(name, (stream, cancellationToken) => stream.WriteAsync(Encoding.UTF8.GetBytes(name), cancellationToken).AsTask());
}
