using System.Runtime.InteropServices;
using Google.Protobuf;
using MsSwift.Contracts.Data.V1;
using MsSwift.Modeling.Checkpoints;
using StackExchange.Redis;

namespace MsSwift.Data.Datasets;

/// <summary>
/// Dataset versions: token streams (little-endian int32) and the report in blob storage under
/// <c>datasets/{name}/{version}/</c>, written first; then the version is listed in Redis, so a
/// version is visible only once it is complete. Re-ingesting the same content is a no-op.
/// </summary>
public sealed class DatasetStore(Lazy<ICheckpointStore> blobs, IConnectionMultiplexer redis)
{
    public async Task SaveAsync(BuiltDataset dataset, CancellationToken cancellationToken)
    {
        var prefix = Prefix(dataset.Info.Name, dataset.Info.Version);
        await blobs.Value.SaveAsync($"{prefix}/train.tokens", (stream, token) => stream.WriteAsync(MemoryMarshal.AsBytes(dataset.TrainTokens.AsSpan()).ToArray(), token).AsTask(), cancellationToken);
        await blobs.Value.SaveAsync($"{prefix}/validation.tokens", (stream, token) => stream.WriteAsync(MemoryMarshal.AsBytes(dataset.ValidationTokens.AsSpan()).ToArray(), token).AsTask(), cancellationToken);
        var database = redis.GetDatabase();
        await database.HashSetAsync(Key(dataset.Info.Name), dataset.Info.Version, dataset.Info.ToByteArray());
        await database.StringSetAsync(LatestKey(dataset.Info.Name), dataset.Info.Version);
    }

    /// <summary>The version's report; null for an unknown dataset or version. An empty version means the latest.</summary>
    public async Task<DatasetInfo?> FindAsync(string name, string version)
    {
        var database = redis.GetDatabase();
        if (string.IsNullOrEmpty(version))
        {
            version = (string?)await database.StringGetAsync(LatestKey(name)) ?? "";
        }

        var info = version.Length == 0 ? RedisValue.Null : await database.HashGetAsync(Key(name), version);
        return info.IsNull ? null : DatasetInfo.Parser.ParseFrom((byte[])info!);
    }

    public async Task<int[]> ReadTokensAsync(DatasetInfo info, Split split, CancellationToken cancellationToken)
    {
        var file = split == Split.Validation ? "validation" : "train";
        await using var stream = await blobs.Value.OpenReadAsync($"{Prefix(info.Name, info.Version)}/{file}.tokens", cancellationToken);
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return MemoryMarshal.Cast<byte, int>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)).ToArray();
    }

    private static string Prefix(string name, string version) => $"datasets/{name}/{version}";

    private static RedisKey Key(string name) => $"msswift:data:dataset:{name}:versions";

    private static RedisKey LatestKey(string name) => $"msswift:data:dataset:{name}:latest";
}
