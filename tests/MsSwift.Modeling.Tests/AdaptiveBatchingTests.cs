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

        var (alone, _) = await ClientsAsync(batcher, clients: 1, requestsEach: 4);
        var (burst, duringBurst) = await ClientsAsync(batcher, clients: 64, requestsEach: 2);
        var (aloneAgain, _) = await ClientsAsync(batcher, clients: 1, requestsEach: 4);

        Assert.All(alone, state => Assert.Equal(1, state.ChosenBatchSize));
        Assert.True(burst.Max(state => state.ChosenBatchSize) >= 48, $"the batch under 64 clients reached only {burst.Max(state => state.ChosenBatchSize)}");
        Assert.True(duringBurst.Max(state => state.Running) >= 32, $"at most {duringBurst.Max(state => state.Running)} sequences ran together under 64 clients");
        Assert.InRange(duringBurst.Max(state => state.KvCacheUsage), double.Epsilon, 1);
        Assert.All(aloneAgain, state => Assert.Equal(1, state.ChosenBatchSize));
    }

    /// <summary>
    /// Closed-loop clients; each notes the engine's state when its request's first token arrives (a
    /// decision has been made for it by then). Beside them the engine's state is read all along: on a
    /// loaded machine a client may only run after its whole batch has finished, and then sees it idle.
    /// </summary>
    private static async Task<(List<SchedulerState> AtFirstToken, List<SchedulerState> Sampled)> ClientsAsync(ContinuousBatcher batcher, int clients, int requestsEach)
    {
        var seen = new List<SchedulerState>();
        var sampled = new List<SchedulerState>();
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                sampled.Add(batcher.State);
                await Task.Delay(1);
            }
        });
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
        await done.CancelAsync();
        await sampler;
        return (seen, sampled);
    }
}
