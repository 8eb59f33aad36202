using Google.Protobuf;
using MsSwift.Contracts.Data.V1;
using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Errors;
using StackExchange.Redis;

namespace MsSwift.Data.Datasets;

/// <summary>
/// Dataset versions: token streams (little-endian int32) and the report in blob storage under
/// <c>datasets/{name}/{version}/</c>, written first; then the version is listed in Redis, so a
/// version is visible only once it is complete. Re-ingesting the same content is a no-op. The
/// names of all datasets are kept in an index, so listing them never scans the keyspace.
/// Batches read the token files by range through <see cref="TokenFileCache"/>.
/// </summary>
public sealed class DatasetStore(Lazy<ICheckpointStore> blobs, IConnectionMultiplexer redis, TokenFileCache tokenFiles)
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

    /// <summary>Stores a version whose token streams were staged in local files (ingest learns the version only at the end).</summary>
    public async Task SaveAsync(DatasetInfo info, string trainTokensFile, string validationTokensFile, CancellationToken cancellationToken)
    {
        await blobs.Value.SaveAsync(BlobName(info, Split.Train), (stream, token) => CopyFileAsync(trainTokensFile, stream, token), cancellationToken);
        await blobs.Value.SaveAsync(BlobName(info, Split.Validation), (stream, token) => CopyFileAsync(validationTokensFile, stream, token), cancellationToken);
        // One transaction: a name in the index always has a latest version to show.
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.HashSetAsync(Key(info.Name), info.Version, info.ToByteArray());
        _ = transaction.StringSetAsync(LatestKey(info.Name), info.Version);
        _ = transaction.SortedSetAddAsync(NamesKey, info.Name, 0);
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

    /// <summary>The split's token stream, open for range reads; the caller disposes it.</summary>
    /// <exception cref="ServiceException">FailedPrecondition: the version is listed but its token file is gone from the store.</exception>
    public async Task<TokenFile> OpenTokensAsync(DatasetInfo info, Split split, CancellationToken cancellationToken)
    {
        try
        {
            return await tokenFiles.OpenAsync(BlobName(info, split), cancellationToken);
        }
        catch (CheckpointNotFoundException)
        {
            throw new ServiceException(ServiceError.FailedPrecondition,
                $"dataset '{info.Name}' version '{info.Version}' is listed but its {split} tokens are missing from storage; ingest it again");
        }
    }

    private static async Task CopyFileAsync(string path, Stream target, CancellationToken cancellationToken)
    {
        await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await source.CopyToAsync(target, 1 << 20, cancellationToken);
    }

    private static string BlobName(DatasetInfo info, Split split) =>
        $"{Prefix(info.Name, info.Version)}/{(split == Split.Validation ? "validation" : "train")}.tokens";

    private static async Task<DatasetInfo?> LatestAsync(IDatabaseAsync database, string name) =>
        Parse((RedisValue)await database.ScriptEvaluateAsync(LatestScript, new { latest = LatestKey(name), versions = Key(name) }));

    private static DatasetInfo? Parse(RedisValue info) => info.IsNull ? null : DatasetInfo.Parser.ParseFrom((byte[])info!);

    private static string Prefix(string name, string version) => $"datasets/{name}/{version}";

    private static RedisKey Key(string name) => $"msswift:data:dataset:{name}:versions";

    private static RedisKey LatestKey(string name) => $"msswift:data:dataset:{name}:latest";
}
