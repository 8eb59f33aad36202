using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class KvCacheTests
{
    [Fact]
    public void Incremental_decoding_with_the_cache_matches_full_recomputation()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var tokens = TestModels.RandomTokens(1, 40);
        var full = model.forward(tokens);

        using var cache = new KvCache(model.Config, 1, model.Device, model.DType);
        var pieces = new List<Tensor> { model.Logits(tokens.narrow(1, 0, 8), cache) };
        for (var position = 8; position < 40; position++)
        {
            pieces.Add(model.Logits(tokens.narrow(1, position, 1), cache));
        }

        var incremental = cat(pieces, 1);
        var difference = TestModels.MaxAbsDiff(full, incremental);

        Assert.Equal(40, cache.Length);
        Assert.True(difference <= 1e-4, $"max |full - cached| = {difference:E2} (bound 1e-4)");
    }

    [Fact]
    public void A_multi_token_chunk_after_a_cached_prefix_matches_full_recomputation()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var tokens = TestModels.RandomTokens(1, 30);
        var full = model.forward(tokens);

        using var cache = new KvCache(model.Config, 1, model.Device, model.DType);
        var first = model.Logits(tokens.narrow(1, 0, 10), cache);
        var second = model.Logits(tokens.narrow(1, 10, 20), cache);

        Assert.True(TestModels.MaxAbsDiff(full, cat([first, second], 1)) <= 1e-4);
    }

    [Fact]
    public void Left_padded_rows_of_a_batch_match_each_sequence_run_alone()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var longer = TestModels.RandomTokens(1, 12, seed: 1);
        var shorter = TestModels.RandomTokens(1, 7, seed: 2);
        var aloneLonger = model.forward(longer);
        var aloneShorter = model.forward(shorter);

        var batch = cat([longer, cat([zeros([1, 5], dtype: int64), shorter], 1)], 0);
        using var cache = new KvCache(model.Config, 2, model.Device, model.DType, padLengths: [0, 5]);
        var batched = model.Logits(batch, cache);
        var nextTokens = tensor(new long[] { 3, 4 }).view(2, 1);
        var batchedNext = model.Logits(nextTokens, cache);
        var aloneShorterNext = model.forward(cat([shorter, tensor(new long[] { 4 }).view(1, 1)], 1));

        Assert.True(TestModels.MaxAbsDiff(aloneLonger, batched[0].unsqueeze(0)) <= 1e-4);
        Assert.True(TestModels.MaxAbsDiff(aloneShorter, batched[1].narrow(0, 5, 7).unsqueeze(0)) <= 1e-4);
        Assert.True(TestModels.MaxAbsDiff(aloneShorterNext.select(1, -1), batchedNext[1]) <= 1e-4);
    }

    [Fact]
    public void Next_token_logits_are_the_last_position_of_the_full_logits_and_advance_the_cache_alike()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var prompts = cat([TestModels.RandomTokens(1, 9, seed: 1), cat([zeros([1, 3], dtype: int64), TestModels.RandomTokens(1, 6, seed: 2)], 1)], 0);
        using var full = new KvCache(model.Config, 2, model.Device, model.DType, padLengths: [0, 3]);
        using var next = new KvCache(model.Config, 2, model.Device, model.DType, padLengths: [0, 3]);

        var expected = model.Logits(prompts, full).select(1, -1);
        var actual = model.NextTokenLogits(prompts, next);

        Assert.Equal([2L, model.Config.VocabSize], actual.shape);
        Assert.True(TestModels.MaxAbsDiff(expected, actual) <= 1e-5);
        Assert.Equal(full.Length, next.Length);
        var continued = tensor(new long[] { 3, 4 }).view(2, 1);
        Assert.True(TestModels.MaxAbsDiff(model.Logits(continued, full), model.Logits(continued, next)) <= 1e-5);
    }

    [Fact]
    public void Writing_past_the_context_length_is_refused()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var cache = new KvCache(model.Config, 1, model.Device, model.DType);
        model.Logits(TestModels.RandomTokens(1, 64), cache);

        var error = Assert.Throws<ArgumentException>(() => model.Logits(TestModels.RandomTokens(1, 1), cache));

        Assert.Contains("65 tokens exceed the model's context length of 64", error.Message);
    }

    [Fact]
    public void A_prefill_sized_cache_gives_the_same_logits_and_holds_no_more_than_its_capacity()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var prompts = cat([TestModels.RandomTokens(1, 9, seed: 1), cat([zeros([1, 3], dtype: int64), TestModels.RandomTokens(1, 6, seed: 2)], 1)], 0);
        using var whole = new KvCache(model.Config, 2, model.Device, model.DType, padLengths: [0, 3]);
        using var sized = new KvCache(model.Config, 2, model.Device, model.DType, padLengths: [0, 3], capacity: 9);

        var expected = model.Logits(prompts, whole);
        var actual = model.Logits(prompts, sized);

        Assert.Equal(0, TestModels.MaxAbsDiff(expected, actual), 6);
        Assert.Throws<InvalidOperationException>(() => model.Logits(TestModels.RandomTokens(2, 1), sized));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(model.Config, 1, model.Device, model.DType, capacity: model.Config.ContextLength + 1));
    }
}
