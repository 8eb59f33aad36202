using MsSwift.Contracts.Data.V1;
using MsSwift.Data.Datasets;

namespace MsSwift.Data.Tests;

/// <summary>A dataset built into memory streams, for tests that look at its tokens.</summary>
internal sealed record InMemoryIngest(DatasetInfo Info, int[] TrainTokens, int[] ValidationTokens)
{
    public static async Task<InMemoryIngest> BuildAsync(TextReader input, IngestOptions options, int chunkTokens = 1 << 20)
    {
        using var train = new MemoryStream();
        using var validation = new MemoryStream();
        var info = await DatasetBuilder.BuildAsync("d", input, options, train, validation, chunkTokens, CancellationToken.None);
        return new InMemoryIngest(info, Tokens(train), Tokens(validation));
    }

    private static int[] Tokens(MemoryStream stream) =>
        Enumerable.Range(0, (int)stream.Length / sizeof(int)).Select(i => BitConverter.ToInt32(stream.GetBuffer(), i * sizeof(int))).ToArray();
}
