namespace MsSwift.ServiceDefaults.Tests;

public sealed class RandomIdsTests
{
    [Fact]
    public void Ids_are_32_lowercase_hex_digits_and_never_repeat()
    {
        // Several threads, each past its first buffer of 256 ids.
        var ids = Enumerable.Range(0, 4).AsParallel().WithDegreeOfParallelism(4)
            .SelectMany(_ => Enumerable.Range(0, 2_500).Select(_ => RandomIds.New()).ToList())
            .ToList();

        Assert.All(ids, id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        // 128 random bits: every hex digit shows up in every position across 10000 ids.
        Assert.All(Enumerable.Range(0, 32), position => Assert.Equal(16, ids.Select(id => id[position]).Distinct().Count()));
    }
}
