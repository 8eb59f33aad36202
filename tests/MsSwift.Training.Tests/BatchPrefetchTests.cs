using MsSwift.Modeling.Training;
using MsSwift.Training.Workers;
using static TorchSharp.torch;

namespace MsSwift.Training.Tests;

public sealed class BatchPrefetchTests
{
    private readonly List<string> _reads = []; // "step:shards" of every read

    [Fact]
    public async Task A_matching_guess_is_served_without_reading_again()
    {
        using var prefetch = new BatchPrefetch();
        prefetch.Start(Read, step: 4, [1, 2], CancellationToken.None);
        prefetch.Start(Read, step: 4, [1, 2], CancellationToken.None); // the same guess again starts nothing

        var batches = await prefetch.TakeAsync(Read, step: 4, [1, 2], CancellationToken.None);

        Assert.Equal(["4:1,2"], _reads);
        Assert.Equal(4, batches[0].Inputs[0, 0].item<long>());
        batches.ForEach(batch => batch.Dispose());
    }

    [Theory]
    [InlineData(5, new[] { 1, 2 })] // the step moved on further than guessed
    [InlineData(4, new[] { 1 })] // the membership changed and the shards with it
    public async Task A_wrong_guess_is_read_again_for_what_is_asked(long step, int[] shards)
    {
        using var prefetch = new BatchPrefetch();
        prefetch.Start(Read, step: 4, [1, 2], CancellationToken.None);

        var batches = await prefetch.TakeAsync(Read, step, shards, CancellationToken.None);

        Assert.Equal($"{step}:{string.Join(',', shards)}", _reads[^1]);
        Assert.Equal(2, _reads.Count);
        Assert.Equal(step, batches[0].Inputs[0, 0].item<long>());
        batches.ForEach(batch => batch.Dispose());
    }

    [Fact]
    public async Task A_failed_guess_falls_back_to_reading_now()
    {
        using var prefetch = new BatchPrefetch();
        prefetch.Start((_, _, _) => Task.FromException<List<TokenBatch>>(new IOException("the data service restarted")), step: 4, [0], CancellationToken.None);

        var batches = await prefetch.TakeAsync(Read, step: 4, [0], CancellationToken.None);

        Assert.Equal(["4:0"], _reads);
        batches.ForEach(batch => batch.Dispose());
    }

    /// <summary>One batch whose first token is the step, so a test sees which read it got.</summary>
    private Task<List<TokenBatch>> Read(long step, IReadOnlyList<int> shards, CancellationToken cancellationToken)
    {
        _reads.Add($"{step}:{string.Join(',', shards)}");
        return Task.FromResult(new List<TokenBatch> { TokenBatch.FromWindows(full([1, 9], step, dtype: int64)) });
    }
}
