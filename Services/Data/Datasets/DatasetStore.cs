using System.Runtime.InteropServices;
using Google.Protobuf;
using MsSwift.Contracts.Data.V1;
using MsSwift.Modeling.Checkpoints;
using StackExchange.Redis;

namespace MsSwift.Data.Datasets;

/// <summary>
/// Dataset versions: token streams (little-endian int32) and the report in blob storage under
/// <c>datasets/{name}/{version}/</c>, written first; then the version is listed in Redis, so a
/// version is visible only once it is complete. Re-ingesting the same content is a no-op. The
/// names of all datasets are kept in an index, so listing them never scans the keyspace.
/// </summary>
public sealed class DatasetStore(Lazy<ICheckpointStore> blobs, IConnectionMultiplexer redis)
{
    // Every name has score 0, so Redis orders the index bytewise by name: pages come sorted and stable.
    private static readonly RedisKey NamesKey = "msswift:data:datasets";
    private const int ListPage = 256;

    // The latest version's report in one call; both keys are passed (not built in the script).
    private static readonly LuaScript LatestScript = LuaScript.Prepare("""
        local version = redis.call('GET', @latest)
        if not version then return false end
        return redis.call('HGET', @versions, version)
        """);

    public async Task SaveAsync(BuiltDataset dataset, CancellationToken cancellationToken)
    {
        var prefix = Prefix(dataset.Info.Name, dataset.Info.Version);
        await blobs.Value.SaveAsync($"{prefix}/train.tokens", (stream, token) => stream.WriteAsync(MemoryMarshal.AsBytes(dataset.TrainTokens.AsSpan()).ToArray(), token).AsTask(), cancellationToken);
        await blobs.Value.SaveAsync($"{prefix}/validation.tokens", (stream, token) => stream.WriteAsync(MemoryMarshal.AsBytes(dataset.ValidationTokens.AsSpan()).ToArray(), token).AsTask(), cancellationToken);
        // One transaction: a name in the index always has a latest version to show.
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.HashSetAsync(Key(dataset.Info.Name), dataset.Info.Version, dataset.Info.ToByteArray());
        _ = transaction.StringSetAsync(LatestKey(dataset.Info.Name), dataset.Info.Version);
        _ = transaction.SortedSetAddAsync(NamesKey, dataset.Info.Name, 0);
        await transaction.ExecuteAsync();
    }

    /// <summary>The version's report; null for an unknown dataset or version. An empty version means the latest.</summary>
    public async Task<DatasetInfo?> FindAsync(string name, string version)
    {
        var database = redis.GetDatabase();
        return string.IsNullOrEmpty(version)
            ? await LatestAsync(database, name)
            : Parse(await database.HashGetAsync(Key(name), version));
    }

    /// <summary>The latest version of every dataset, by name; one round trip for each page of names and one for their reports.</summary>
    public async Task<IReadOnlyList<DatasetInfo>> ListLatestAsync(CancellationToken cancellationToken)
    {
        var database = redis.GetDatabase();
        var datasets = new List<DatasetInfo>();
        for (long start = 0; ; start += ListPage)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var names = await database.SortedSetRangeByRankAsync(NamesKey, start, start + ListPage - 1);
            var batch = database.CreateBatch();
            var page = names.Select(name => LatestAsync(batch, (string)name!)).ToList();
            batch.Execute();
            datasets.AddRange((await Task.WhenAll(page)).OfType<DatasetInfo>());
            if (names.Length < ListPage)
            {
                return datasets;
            }
        }
    }

    public async Task<int[]> ReadTokensAsync(DatasetInfo info, Split split, CancellationToken cancellationToken)
    {
        var file = split == Split.Validation ? "validation" : "train";
        await using var stream = await blobs.Value.OpenReadAsync($"{Prefix(info.Name, info.Version)}/{file}.tokens", cancellationToken);
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return MemoryMarshal.Cast<byte, int>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)).ToArray();
    }

    private static async Task<DatasetInfo?> LatestAsync(IDatabaseAsync database, string name) =>
        Parse((RedisValue)await database.ScriptEvaluateAsync(LatestScript, new { latest = LatestKey(name), versions = Key(name) }));

    private static DatasetInfo? Parse(RedisValue info) => info.IsNull ? null : DatasetInfo.Parser.ParseFrom((byte[])info!);

    private static string Prefix(string name, string version) => $"datasets/{name}/{version}";

    private static RedisKey Key(string name) => $"msswift:data:dataset:{name}:versions";

    private static RedisKey LatestKey(string name) => $"msswift:data:dataset:{name}:latest";
}
