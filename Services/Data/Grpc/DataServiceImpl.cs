using Grpc.Core;
using MsSwift.Contracts;
using MsSwift.Contracts.Data.V1;
using MsSwift.Data.Datasets;

namespace MsSwift.Data.Grpc;

/// <summary>Dataset lookups and deterministic shard batches for training workers, read by range from the split's token file.</summary>
internal sealed class DataServiceImpl(DatasetStore store) : DataService.DataServiceBase
{
    public override async Task<DatasetInfo> GetDataset(GetDatasetRequest request, ServerCallContext context) =>
        await store.FindAsync(request.Name, request.Version)
        ?? throw new RpcException(new Status(StatusCode.NotFound, $"no dataset '{request.Name}' version '{(request.Version.Length == 0 ? "latest" : request.Version)}'"));

    public override async Task StreamBatches(BatchRequest request, IServerStreamWriter<TokenBatchMessage> responseStream, ServerCallContext context)
    {
        if (request.ShardCount < 1 || request.Shard < 0 || request.Shard >= request.ShardCount || request.BatchSize < 1 || request.Window < 1
            || request.BatchSize * (request.Window + 1L) > DataLimits.MaxBatchTokens || request.RandomBatches < 0 || request.MaxBatches < 0 || request.FirstBatch < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"need 0 <= shard < shard_count, batch_size >= 1, window >= 1, random_batches >= 0, first_batch >= 0, max_batches >= 0 and at most {DataLimits.MaxBatchTokens} tokens per batch"));
        }

        if ((request.RandomBatches > 0 && (request.MaxBatches > 0 || request.FirstBatch > 0)) || (request.MaxBatches == 0 && request.FirstBatch > 0))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                "first_batch needs max_batches, and neither goes with random_batches (random windows are drawn from the seed)"));
        }

        var info = await GetDataset(new GetDatasetRequest { Name = request.Name, Version = request.Version }, context);
        using var tokens = await store.OpenTokensAsync(info, request.Split, context.CancellationToken);
        var starts = request switch
        {
            { RandomBatches: > 0 } => ShardPlan.RandomWindows(tokens.Count, request.Window, request.Shard, request.ShardCount, (long)request.RandomBatches * request.BatchSize, request.Seed),
            { MaxBatches: > 0 } => ShardPlan.CyclicWindows(tokens.Count, request.Window, request.Shard, request.ShardCount, request.BatchSize, request.FirstBatch, request.MaxBatches),
            _ => ShardPlan.FixedWindows(tokens.Count, request.Window, request.Shard, request.ShardCount),
        };
        foreach (var batch in starts.Chunk(request.BatchSize))
        {
            var message = new TokenBatchMessage { Rows = batch.Length, Columns = request.Window + 1 };
            foreach (var start in batch)
            {
                message.Tokens.Add(await tokens.ReadAsync(start, request.Window + 1, context.CancellationToken));
            }

            await responseStream.WriteAsync(message, context.CancellationToken);
        }
    }
}
