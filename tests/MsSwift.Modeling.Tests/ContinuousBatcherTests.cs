using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class ContinuousBatcherTests
{
    private static readonly ByteTokenizer Bytes = new();
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Many_concurrent_callers_get_exactly_what_unbatched_greedy_decoding_gives()
    {
        using var model = DecisiveModel();
        var requests = Enumerable.Range(0, 24)
            .Select(i => new GenerationRequest(Bytes.Encode($"prompt number {i} {new string('x', i % 7)}"),
                new GenerationOptions { MaxNewTokens = 8 + i % 13 }))
            .ToList();
        var unbatched = requests.Select(request => new TextGenerator(model, Bytes).Generate([request])[0]).ToList();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 8 });

        var handles = await Task.WhenAll(requests.Select(request => Task.Run(() => batcher.Submit(request))));
        var results = await Task.WhenAll(handles.Select(handle => handle.Completion)).WaitAsync(Timeout);

        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Equal(unbatched[i].Tokens, results[i].Tokens);
            Assert.Equal(unbatched[i].FinishReason, results[i].FinishReason);
        }

        Assert.True(batcher.DecodedTokens > batcher.DecodeSteps, $"{batcher.DecodedTokens} tokens in {batcher.DecodeSteps} steps: nothing was batched");
    }

    [Fact]
    public async Task A_short_answer_finishes_while_a_long_one_is_still_generating()
    {
        using var model = DecisiveModel(contextLength: 2048);
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 4 });

        var longRequest = batcher.Submit(new GenerationRequest(Bytes.Encode("long"), new GenerationOptions { MaxNewTokens = 2000 }));
        Assert.True(WaitForFirstToken(longRequest), "the long request never started");
        var shortRequest = batcher.Submit(new GenerationRequest(Bytes.Encode("short"), new GenerationOptions { MaxNewTokens = 3 }));
        var shortResult = await shortRequest.Completion.WaitAsync(Timeout);
        var longResult = await longRequest.Completion.WaitAsync(Timeout);

        Assert.Equal(3, shortResult.Tokens.Count);
        Assert.Equal(2000, longResult.Tokens.Count);
        // Compared on the engine's own timestamps, not on when this test's continuations happen to run.
        Assert.True(shortRequest.LastTokenAt < longRequest.LastTokenAt, "the long request finished first: the short one waited for it");
    }

    [Fact]
    public async Task A_full_queue_refuses_at_once_instead_of_waiting()
    {
        using var model = DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 1, MaxQueueSize = 2 });
        var accepted = new List<GenerationHandle>();
        var refused = 0;

        for (var i = 0; i < 10; i++)
        {
            try
            {
                // ~50 ms each: none can finish and free room while the ten are submitted.
                accepted.Add(batcher.Submit(new GenerationRequest(Bytes.Encode("busy"), new GenerationOptions { MaxNewTokens = 200 })));
            }
            catch (QueueFullException)
            {
                refused++;
            }
        }

        // At most one running and two waiting can be accepted; every accepted request still completes.
        Assert.True(refused >= 7, $"only {refused} of 10 were refused");
        var results = await Task.WhenAll(accepted.Select(handle => handle.Completion)).WaitAsync(Timeout);
        Assert.All(results, result => Assert.Equal(200, result.Tokens.Count));
    }

    [Fact]
    public async Task A_cancelled_request_stops_and_frees_its_slot()
    {
        using var model = DecisiveModel(contextLength: 2048);
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 1 });
        using var cancellation = new CancellationTokenSource();

        var cancelled = batcher.Submit(new GenerationRequest(Bytes.Encode("cancel me"), new GenerationOptions { MaxNewTokens = 2000 }), cancellation.Token);
        Assert.True(WaitForFirstToken(cancelled), "the request never started");
        await cancellation.CancelAsync();
        var next = batcher.Submit(new GenerationRequest(Bytes.Encode("next"), new GenerationOptions { MaxNewTokens = 4 }));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Completion.WaitAsync(Timeout));
        Assert.Equal(4, (await next.Completion.WaitAsync(Timeout)).Tokens.Count);
    }

    [Fact]
    public async Task Draining_finishes_queued_and_running_work_then_refuses_new_requests()
    {
        using var model = DecisiveModel();
        var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 2 });
        var handles = Enumerable.Range(0, 5)
            .Select(i => batcher.Submit(new GenerationRequest(Bytes.Encode($"drain {i}"), new GenerationOptions { MaxNewTokens = 10 })))
            .ToList();

        await batcher.DrainAsync().WaitAsync(Timeout);

        Assert.All(handles, handle => Assert.Equal(10, handle.Completion.Result.Tokens.Count));
        Assert.Throws<BatcherClosedException>(() => batcher.Submit(new GenerationRequest(Bytes.Encode("late"), new GenerationOptions())));
        await batcher.DisposeAsync();
    }

    [Fact]
    public async Task Invalid_requests_are_refused_before_they_are_queued()
    {
        using var model = DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions());

        var error = Assert.Throws<ArgumentException>(() => batcher.Submit(new GenerationRequest([], new GenerationOptions())));

        Assert.Contains("the prompt is empty", error.Message);
        Assert.Equal(0, batcher.QueuedCount);
    }

    /// <summary>
    /// Waits on this thread rather than in a continuation: on a loaded machine the thread pool can
    /// delay a continuation by as long as the request takes, and the test's next step would come
    /// after the request ended. The request is long enough (~0.5 s idle) to outlast a descheduled thread.
    /// </summary>
    internal static bool WaitForFirstToken(GenerationHandle handle) =>
        SpinWait.SpinUntil(() => handle.Tokens.TryPeek(out _) || handle.Completion.IsCompleted, Timeout) && !handle.Completion.IsCompleted;

    /// <summary>
    /// A model whose logits are far apart (weights scaled up), so greedy choices do not hinge on
    /// the last bits of float rounding, which may differ between batch shapes.
    /// </summary>
    internal static GptModel DecisiveModel(int contextLength = 256)
    {
        var model = TestModels.Create(TestModels.Tiny with { ContextLength = contextLength });
        using (no_grad())
        {
            foreach (var parameter in model.parameters().Where(parameter => parameter.dim() == 2))
            {
                parameter.mul_(8);
            }
        }

        return model;
    }
}
