using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Generation.Scheduling;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Modeling.Tests;

/// <summary>The adaptive scheduler in the real engine, on real TorchSharp math, with no batch size set for the load.</summary>
[Collection(TorchSerialGroup.Name)]
public sealed class AdaptiveBatchingTests
{
    private static readonly ByteTokenizer Bytes = new();
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task The_chosen_batch_rises_with_a_step_from_one_client_to_64_and_falls_back_when_one_is_left()
    {
        using var model = ContinuousBatcherTests.DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 64 });

        var alone = await ClientsAsync(batcher, clients: 1, requestsEach: 4);
        var burst = await ClientsAsync(batcher, clients: 64, requestsEach: 2);
        var aloneAgain = await ClientsAsync(batcher, clients: 1, requestsEach: 4);

        Assert.All(alone, state => Assert.Equal(1, state.ChosenBatchSize));
        Assert.True(burst.Max(state => state.ChosenBatchSize) >= 48, $"the batch under 64 clients reached only {burst.Max(state => state.ChosenBatchSize)}");
        Assert.True(burst.Max(state => state.Running) >= 32, $"at most {burst.Max(state => state.Running)} sequences ran together under 64 clients");
        Assert.InRange(burst.Max(state => state.KvCacheUsage), double.Epsilon, 1);
        Assert.All(aloneAgain, state => Assert.Equal(1, state.ChosenBatchSize));
    }

    /// <summary>Closed-loop clients; each notes the engine's state when its request's first token arrives (a decision has been made for it by then).</summary>
    private static async Task<List<SchedulerState>> ClientsAsync(ContinuousBatcher batcher, int clients, int requestsEach)
    {
        var seen = new List<SchedulerState>();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < requestsEach; i++)
            {
                var handle = batcher.Submit(new GenerationRequest(Bytes.Encode($"client {client} request {i}"), new GenerationOptions { MaxNewTokens = 12 }));
                await handle.Tokens.ReadAsync().AsTask().WaitAsync(Timeout);
                var state = batcher.State;
                lock (seen)
                {
                    seen.Add(state);
                }

                await handle.Completion.WaitAsync(Timeout);
            }
        }))).WaitAsync(Timeout);
        return seen;
    }
}
