using System.Numerics;
using MsSwift.Data.Datasets;

namespace MsSwift.Data.Tests;

public sealed class DatasetBuilderTests
{
    private static readonly IngestOptions Jsonl = new(RecordFormat.Jsonl, "byte", ValidationPercent: 20);

    [Fact]
    public async Task Malformed_records_are_counted_with_line_and_reason_and_duplicates_dropped()
    {
        var input = string.Join('\n',
            """{"text": "first document"}""",
            """{"text": "first document"}""",
            "not json",
            """{"body": "no text field"}""",
            """["an", "array"]""",
            "",
            """{"text": "Cafe\u0301 au lait\r\n"}""",
            """{"text": "Café au lait"}""");

        var built = await InMemoryIngest.BuildAsync(new StringReader(input), Jsonl);

        Assert.Equal(2, built.Info.Documents);
        // NFC makes the decomposed and composed café the same document.
        Assert.Equal(2, built.Info.Duplicates);
        Assert.Equal(3, built.Info.Malformed);
        Assert.Equal([3L, 4L, 5L], built.Info.MalformedExamples.Select(record => record.Line));
        Assert.StartsWith("invalid JSON", built.Info.MalformedExamples[0].Reason);
        Assert.Equal("no string field 'text'", built.Info.MalformedExamples[1].Reason);
        Assert.Equal(built.TrainTokens.Length, built.Info.TrainTokens);
        Assert.Equal(built.Info.TrainTokens + built.Info.ValidationTokens, "first document".Length + "Café au lait".Length + 2 * 2 + "é".Length);
    }

    [Fact]
    public async Task A_document_over_the_bound_is_counted_malformed_and_the_documents_around_it_are_kept()
    {
        var huge = new string('w', DatasetBuilder.MaxDocumentChars / 2);
        // A paragraph of two half-bound lines plus a line break, then one JSONL line over the bound.
        var text = await InMemoryIngest.BuildAsync(new StringReader($"before\n\n{huge}\n{huge}\n\nafter"), new IngestOptions(RecordFormat.Text, "byte", 0));
        var jsonl = await InMemoryIngest.BuildAsync(
            new StringReader($"{{\"text\": \"before\"}}\n{{\"text\": \"{huge}{huge}\"}}\n{{\"text\": \"\\ud800\"}}\n{{\"text\": \"after\"}}"), Jsonl with { ValidationPercent = 0 });

        Assert.Equal((2, 1), (text.Info.Documents, text.Info.Malformed));
        Assert.Equal(3, text.Info.MalformedExamples.Single().Line);
        Assert.Contains("longer than", text.Info.MalformedExamples.Single().Reason);
        Assert.Equal((2, 2), (jsonl.Info.Documents, jsonl.Info.Malformed));
        Assert.Equal([2L, 3L], jsonl.Info.MalformedExamples.Select(record => record.Line));
        Assert.Contains("not valid Unicode", jsonl.Info.MalformedExamples[1].Reason);
    }

    [Fact]
    public async Task The_version_depends_on_content_not_order_and_the_split_is_stable()
    {
        var documents = Enumerable.Range(0, 200).Select(i => $"document number {i} about {i % 7}").ToList();
        var forwards = await BuildTextAsync(documents);
        var backwards = await BuildTextAsync(documents.AsEnumerable().Reverse());
        var changed = await BuildTextAsync(documents.Append("one more"));

        Assert.Equal(forwards.Info.Version, backwards.Info.Version);
        Assert.NotEqual(forwards.Info.Version, changed.Info.Version);
        Assert.Equal(forwards.Info.ValidationTokens, backwards.Info.ValidationTokens);
        // 20% of documents by hash: roughly a fifth of the tokens.
        Assert.InRange(forwards.Info.ValidationTokens / (double)(forwards.Info.TrainTokens + forwards.Info.ValidationTokens), 0.1, 0.3);
    }

    [Fact]
    public void Shards_split_the_windows_without_overlap_and_cover_them_all()
    {
        const int tokens = 10_000;
        const int window = 64;
        var shards = Enumerable.Range(0, 3).Select(shard => ShardPlan.FixedWindows(tokens, window, shard, 3).ToList()).ToList();
        var random = Enumerable.Range(0, 3).Select(shard => ShardPlan.RandomWindows(tokens, window, shard, 3, 50, seed: 7).ToList()).ToList();

        Assert.Equal((tokens - 1) / window, shards.Sum(shard => shard.Count));
        Assert.Equal(shards.Sum(shard => shard.Count), shards.SelectMany(shard => shard).Distinct().Count());
        Assert.All(shards.SelectMany(shard => shard), start => Assert.True(start + window + 1 <= tokens));
        for (var shard = 0; shard < 3; shard++)
        {
            var stretch = tokens / 3;
            Assert.All(random[shard], start => Assert.InRange(start, shard * stretch, (shard + 1) * stretch - window - 1));
        }

        Assert.Equal(random[1], ShardPlan.RandomWindows(tokens, window, 1, 3, 50, seed: 7));
        Assert.NotEqual(random[1], ShardPlan.RandomWindows(tokens, window, 1, 3, 50, seed: 8));
    }

    [Fact]
    public void Cyclic_batches_walk_the_shard_windows_in_order_and_wrap_into_the_next_epoch()
    {
        const int tokens = 10_000;
        const int window = 64;
        var fixedWindows = ShardPlan.FixedWindows(tokens, window, 1, 3).ToList();

        // The shard has 52 windows: batches of 5 leave 2 at the end of an epoch, so batch 10 wraps.
        var firstEpoch = ShardPlan.CyclicWindows(tokens, window, 1, 3, batchSize: 5, firstBatch: 0, batches: 10).ToList();
        var wrapping = ShardPlan.CyclicWindows(tokens, window, 1, 3, batchSize: 5, firstBatch: 10, batches: 2).ToList();
        var third = ShardPlan.CyclicWindows(tokens, window, 1, 3, batchSize: 5, firstBatch: 2, batches: 1).ToList();

        Assert.Equal(52, fixedWindows.Count);
        Assert.Equal(fixedWindows.Take(50), firstEpoch);
        Assert.Equal(Enumerable.Range(50, 10).Select(i => fixedWindows[i % 52]), wrapping);
        Assert.Equal(fixedWindows.Skip(10).Take(5), third);
        Assert.Empty(ShardPlan.CyclicWindows(window, window, 0, 1, batchSize: 4, firstBatch: 0, batches: 3));
    }

    [Fact]
    public void A_first_batch_near_the_top_of_int64_still_lands_on_the_right_windows()
    {
        const int tokens = 10_000;
        const int window = 64;
        var fixedWindows = ShardPlan.FixedWindows(tokens, window, 1, 3).ToList();
        const long firstBatch = long.MaxValue / 3;

        // firstBatch * batchSize is past 2^63: computed in 64 bits it would wrap negative.
        var windows = ShardPlan.CyclicWindows(tokens, window, 1, 3, batchSize: 5, firstBatch, batches: 2).ToList();

        var first = new BigInteger(firstBatch) * 5;
        Assert.Equal(Enumerable.Range(0, 10).Select(i => fixedWindows[(int)((first + i) % fixedWindows.Count)]), windows);
    }

    [Fact]
    public void Random_draws_are_counted_in_64_bits()
    {
        // random_batches * batch_size can pass int.MaxValue; the plan must not wrap to "no draws".
        var draws = ShardPlan.RandomWindows(1_000, 8, 0, 1, draws: (long)int.MaxValue + 10, seed: 1).Take(3).ToList();

        Assert.Equal(3, draws.Count);
    }

    private static Task<InMemoryIngest> BuildTextAsync(IEnumerable<string> documents) =>
        InMemoryIngest.BuildAsync(new StringReader(string.Join("\n\n", documents)), new IngestOptions(RecordFormat.Text, "byte", 20));
}
