using MsSwift.Modeling.Gpt;
using static TorchSharp.torch;

namespace MsSwift.Modeling.Tests;

[Collection(TorchSerialGroup.Name)]
public sealed class SlotKvCacheTests
{
    [Fact]
    public void Decoding_slots_of_mixed_lengths_matches_each_sequence_alone_and_reads_only_about_their_own_prefixes()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        // One long sequence among short ones, with their token budgets as the engine would see them.
        var prompts = new (int Length, int Budget)[] { (40, 20), (5, 4), (6, 4), (5, 4), (7, 4) }
            .Select((shape, i) => (Tokens: TestModels.RandomTokens(1, shape.Length, seed: 20 + i), shape.Budget))
            .ToArray();
        using var slots = new SlotKvCache(model.Config, 6, model.Device, model.DType);
        var alone = new List<KvCache>();
        var slotOf = new int[prompts.Length];
        for (var i = 0; i < prompts.Length; i++)
        {
            var length = (int)prompts[i].Tokens.shape[1];
            using var prefill = new KvCache(model.Config, 1, model.Device, model.DType, capacity: length);
            model.Logits(prompts[i].Tokens, prefill);
            slotOf[i] = slots.Admit(prefill, 0, expectedLength: length + prompts[i].Budget);
            var single = new KvCache(model.Config, 1, model.Device, model.DType);
            model.Logits(prompts[i].Tokens, single);
            alone.Add(single);
        }

        var live = Enumerable.Range(0, prompts.Length).ToList();
        for (var step = 0; step < 3; step++)
        {
            if (step == 1)
            {
                // A sequence in the middle leaves: its slot is a hole that the next steps skip.
                slots.Release(slotOf[2]);
                live.Remove(2);
            }

            var occupied = slots.OccupiedSlots();
            var next = live.OrderBy(i => slotOf[i]).ToArray();
            Assert.Equal(next.Select(i => slotOf[i]), occupied);
            var tokens = TestModels.RandomTokens(next.Length, 1, seed: 100 + step);
            var batched = model.DecodeSlots(tokens, slots);
            for (var row = 0; row < next.Length; row++)
            {
                var expected = model.Logits(tokens.narrow(0, row, 1), alone[next[row]]);
                var difference = TestModels.MaxAbsDiff(expected, batched.narrow(0, row, 1));
                Assert.True(difference <= 1e-4, $"step {step}, sequence {next[row]}: max |alone - batched| = {difference:E2}");
            }

            var longest = occupied.Max(slots.LengthOf);
            Assert.True(slots.LastStepAttendedPositions * 2 < occupied.Length * longest,
                $"step {step}: {slots.LastStepAttendedPositions} positions read for {occupied.Length} rows (every row over the longest: {occupied.Length * longest})");
        }

        Assert.Equal(prompts.Length - 1, slots.ActiveRows);
        alone.ForEach(cache => cache.Dispose());
    }

    [Fact]
    public void A_new_sequence_joins_the_neighbours_expected_to_run_about_as_long()
    {
        using var model = TestModels.Create();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        using var slots = new SlotKvCache(model.Config, 8, model.Device, model.DType);
        using var prefill = new KvCache(model.Config, 1, model.Device, model.DType, capacity: 4);
        model.Logits(TestModels.RandomTokens(1, 4), prefill);

        var longOne = slots.Admit(prefill, 0, expectedLength: 60);
        var shortOne = slots.Admit(prefill, 0, expectedLength: 8);
        var secondShort = slots.Admit(prefill, 0, expectedLength: 9);
        var secondLong = slots.Admit(prefill, 0, expectedLength: 58);

        Assert.NotEqual(longOne + 1, shortOne);
        Assert.Equal(1, Math.Abs(secondShort - shortOne));
        Assert.Equal(1, Math.Abs(secondLong - longOne));
    }
}
