using MsSwift.Data.Datasets;

namespace MsSwift.Data.Tests;

// RANDOM windows depend on nothing but this repository's code: pinned values, computed
// independently (a Python SplitMix64), fail here if the algorithm or its seeding ever changes.
public sealed class StableRandomTests
{
    [Fact]
    public void The_generator_is_splitmix64_with_its_published_reference_outputs()
    {
        var random = new StableRandom(1234567);

        var draws = Enumerable.Range(0, 5).Select(_ => random.NextUInt64()).ToList();

        // Vigna's reference values for splitmix64.c seeded with 1234567.
        Assert.Equal([6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL, 4593380528125082431UL, 16408922859458223821UL], draws);
    }

    [Fact]
    public void A_shards_random_windows_are_pinned_by_seed_shard_and_count_alone()
    {
        var windows = ShardPlan.RandomWindows(tokens: 10_000, window: 64, shard: 1, count: 3, draws: 5, seed: 7).ToList();

        Assert.Equal([5442L, 4228L, 4606L, 6343L, 4553L], windows);
        Assert.Equal(15212601872414689185UL, StableRandom.DeriveSeed(7, 1, 3));
        Assert.NotEqual(StableRandom.DeriveSeed(7, 1, 3), StableRandom.DeriveSeed(7, 2, 3));
        Assert.NotEqual(StableRandom.DeriveSeed(7, 1, 3), StableRandom.DeriveSeed(7, 1, 4));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(3L)]
    [InlineData(1_000_000_007L)]
    [InlineData(long.MaxValue)]
    public void Bounded_draws_stay_below_the_bound(long bound)
    {
        var random = new StableRandom(StableRandom.DeriveSeed(bound));

        var draws = Enumerable.Range(0, 10_000).Select(_ => random.NextInt64(bound)).ToList();

        Assert.All(draws, draw => Assert.InRange(draw, 0, bound - 1));
        if (bound == 3)
        {
            // Each of the three values about a third of the time (binomial sd ~ 47 of 10 000).
            Assert.All(draws.GroupBy(draw => draw), group => Assert.InRange(group.Count(), 3000, 3700));
        }
    }
}
