using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Gpt;
using MsSwift.Modeling.Tokenizers;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class PrefixCacheTests
{
    private static readonly ByteTokenizer Bytes = new();
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Exactly four blocks of 16 byte tokens: every request below shares whole blocks of it.</summary>
    private static readonly int[] SystemPrompt = [.. Bytes.Encode("You are a terse assistant. Answer in one line, never apologise!!")];

    [Fact]
    public async Task A_second_request_with_a_long_shared_prefix_computes_only_its_own_part_and_answers_as_a_cold_run()
    {
        Assert.Equal(4 * PrefixCache.BlockTokens, SystemPrompt.Length);
        using var model = ContinuousBatcherTests.DecisiveModel();
        var first = Request(SystemPrompt, "Why is the sky blue?", 12);
        var second = Request(SystemPrompt, "What is a monad?", 12);
        var cold = new TextGenerator(model, Bytes).Generate([second])[0];
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 4 });

        await batcher.Submit(first).Completion.WaitAsync(Timeout);
        var computedBefore = batcher.PrefillPositions;
        var hitsBefore = batcher.PrefixCacheHits;
        var warm = await batcher.Submit(second).Completion.WaitAsync(Timeout);

        Assert.Equal(second.Prompt.Count - SystemPrompt.Length, batcher.PrefillPositions - computedBefore);
        Assert.Equal(SystemPrompt.Length, batcher.PrefixCacheHits - hitsBefore);
        Assert.Equal(first.Prompt.Count + second.Prompt.Count, batcher.PrefixCacheQueries);
        Assert.Equal(cold.Tokens, warm.Tokens);
        Assert.Equal(cold.FinishReason, warm.FinishReason);
    }

    [Fact]
    public async Task One_prefill_of_hits_misses_and_partial_hits_of_every_length_answers_each_as_a_cold_run()
    {
        using var model = ContinuousBatcherTests.DecisiveModel();
        var requests = new List<GenerationRequest>
        {
            Request(SystemPrompt, "?", 9),                                            // a hit with a one-token remainder
            Request(SystemPrompt, "Tell me, at some length, how a KV cache works.", 7), // a hit with a long remainder
            Request([], "hi", 11),                                                   // a short miss
            Request([], new string('q', 44), 10),                                     // a miss beside longer remainders: padded into the computed part
            Request([], new string('z', 90), 5),                                      // a miss longer than every remainder
            Request(SystemPrompt, "", 6),                                             // the prefix itself: its last token is computed
            Request(SystemPrompt[..40], "and then something else entirely", 8),      // two of the four blocks, the second partly used
        };
        var cold = requests.Select(request => new TextGenerator(model, Bytes).Generate([request])[0]).ToList();
        // The delay makes the idle engine take all of them in one admission; its forwards group
        // the prompts by remainder (1 and 2; 16; 41, 44 and 47; 90 positions).
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 8, MaxQueueDelay = TimeSpan.FromMilliseconds(500) });
        await batcher.Submit(Request(SystemPrompt, "warm up", 2)).Completion.WaitAsync(Timeout);
        var computedBefore = batcher.PrefillPositions;

        var handles = requests.Select(request => batcher.Submit(request)).ToList();
        var results = await Task.WhenAll(handles.Select(handle => handle.Completion)).WaitAsync(Timeout);

        for (var i = 0; i < requests.Count; i++)
        {
            Assert.Equal(cold[i].Tokens, results[i].Tokens);
            Assert.Equal(cold[i].FinishReason, results[i].FinishReason);
        }

        var prompts = requests.Sum(request => request.Prompt.Count);
        Assert.True(batcher.PrefillPositions - computedBefore < prompts - 64,
            $"{batcher.PrefillPositions - computedBefore} of {prompts} prompt positions were computed");
    }

    [Fact]
    public async Task A_prefix_is_shared_within_its_scope_only_and_a_scoped_hit_answers_as_a_cold_run()
    {
        using var model = ContinuousBatcherTests.DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { MaxBatchSize = 4 });
        var first = Request(SystemPrompt, "Why is the sky blue?", 6) with { PrefixScope = "tenant-a" };
        var cold = new TextGenerator(model, Bytes).Generate([first])[0];
        await batcher.Submit(first).Completion.WaitAsync(Timeout);

        // Another scope and no scope send the same prompt: neither may reuse tenant-a's blocks.
        foreach (var stranger in new[] { first with { PrefixScope = "tenant-b" }, first with { PrefixScope = null } })
        {
            var hitsBefore = batcher.PrefixCacheHits;
            await batcher.Submit(stranger).Completion.WaitAsync(Timeout);
            Assert.Equal(hitsBefore, batcher.PrefixCacheHits);
        }

        var hits = batcher.PrefixCacheHits;
        var again = await batcher.Submit(first).Completion.WaitAsync(Timeout);
        Assert.Equal(SystemPrompt.Length + PrefixCache.BlockTokens, batcher.PrefixCacheHits - hits);
        Assert.Equal(cold.Tokens, again.Tokens);
    }

    [Fact]
    public async Task With_no_room_for_a_block_every_prompt_position_is_computed()
    {
        using var model = ContinuousBatcherTests.DecisiveModel();
        await using var batcher = new ContinuousBatcher(model, Bytes, new BatcherOptions { PrefixCacheBytes = 0 });
        var request = Request(SystemPrompt, "again", 3);

        await batcher.Submit(request).Completion.WaitAsync(Timeout);
        await batcher.Submit(request).Completion.WaitAsync(Timeout);

        Assert.Equal(2 * request.Prompt.Count, batcher.PrefillPositions);
        Assert.Equal(0, batcher.PrefixCacheQueries);
    }

    [Fact]
    public void The_pool_stays_within_its_bytes_and_evicts_the_least_recently_used_blocks_first()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var probe = new PrefixCache(model.Config, 1, model.DType);
        using var pool = new PrefixCache(model.Config, 3 * probe.BytesPerBlock, model.DType);
        var a = Prompt(seed: 1);
        var b = Prompt(seed: 2);

        Store(model, pool, a);
        Store(model, pool, b);

        Assert.Equal(3, pool.Blocks);
        Assert.True(pool.Bytes <= pool.MaxBytes);
        // a's second block was the least recently used; its first block is still there.
        Assert.Single(pool.Match(a, a.Length));
        Assert.Equal(2, pool.Match(b, b.Length).Count);
        using var tooSmall = new PrefixCache(model.Config, probe.BytesPerBlock - 1, model.DType);
        Store(model, tooSmall, a);
        Assert.Equal(0, tooSmall.Blocks);
    }

    [Fact]
    public void A_stored_prefix_is_found_only_for_the_same_leading_tokens()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var pool = new PrefixCache(model.Config, 1 << 20, model.DType);
        var stored = Prompt(seed: 3);
        Store(model, pool, stored);
        var sameStart = stored[..20].Concat(Prompt(seed: 4)[..12]).ToArray();
        var otherFirstToken = stored.ToArray();
        otherFirstToken[0] = (otherFirstToken[0] + 1) % 256;

        Assert.Equal(2, pool.Match(stored, stored.Length).Count);
        Assert.Single(pool.Match(stored, stored.Length - 1)); // never the whole prompt: its last token is computed
        Assert.Single(pool.Match(sameStart, sameStart.Length));
        Assert.Empty(pool.Match(otherFirstToken, otherFirstToken.Length));
    }

    private static GenerationRequest Request(int[] prefix, string rest, int maxNewTokens) =>
        new([.. prefix, .. Bytes.Encode(rest)], new GenerationOptions { MaxNewTokens = maxNewTokens });

    private static int[] Prompt(long seed) => TestModels.RandomTokens(1, 2 * PrefixCache.BlockTokens, seed).data<long>().Select(token => (int)token).ToArray();

    private static void Store(GptModel model, PrefixCache pool, int[] prompt)
    {
        using var cache = new KvCache(model.Config, 1, model.Device, model.DType, capacity: prompt.Length);
        model.Logits(tensor(prompt.Select(token => (long)token).ToArray(), [1, prompt.Length]), cache);
        pool.Store(prompt, cache, row: 0, position: 0);
    }
}
