using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Training;
using static TorchSharp.torch;

namespace MsSwift.Training.Data;

/// <summary>What a training job reads from the data service: a worker's batches for a step, and the validation batches.</summary>
public static class TrainingBatches
{
    /// <summary>
    /// The accumulation_steps micro-batches of step <paramref name="step"/> for the worker holding
    /// shard <paramref name="slot"/>: random windows seeded by the job's seed and the step, or the
    /// shard's fixed windows in order. Either way a step's data is the same on every attempt, so a
    /// job resumed from a checkpoint sees what it would have seen.
    /// </summary>
    public static Task<List<TokenBatch>> ForStepAsync(DataService.DataServiceClient data, TrainRequest request, int slot, long step, CancellationToken cancellationToken)
    {
        var batchRequest = new BatchRequest
        {
            Name = request.Dataset, Version = request.DatasetVersion, Shard = slot, ShardCount = request.Workers,
            BatchSize = request.BatchSize, Window = request.Window,
        };
        if (request.Sampling == WindowSampling.Sequential)
        {
            batchRequest.FirstBatch = step * request.AccumulationSteps;
            batchRequest.MaxBatches = request.AccumulationSteps;
        }
        else
        {
            batchRequest.RandomBatches = request.AccumulationSteps;
            batchRequest.Seed = request.Seed * 1_000_003 + step;
        }

        return ReadAsync(data, batchRequest, request.AccumulationSteps, cancellationToken);
    }

    /// <summary>The first eval_batches batches of the dataset's validation windows (fewer when the split is small).</summary>
    public static Task<List<TokenBatch>> ValidationAsync(DataService.DataServiceClient data, TrainRequest request, CancellationToken cancellationToken) =>
        ReadAsync(data, new BatchRequest
        {
            Name = request.Dataset, Version = request.DatasetVersion, Split = Split.Validation,
            ShardCount = 1, BatchSize = request.BatchSize, Window = request.Window,
        }, request.EvalBatches, cancellationToken);

    private static async Task<List<TokenBatch>> ReadAsync(DataService.DataServiceClient data, BatchRequest request, int count, CancellationToken cancellationToken)
    {
        using var call = data.StreamBatches(request, cancellationToken: cancellationToken);
        var batches = new List<TokenBatch>(count);
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            batches.Add(TokenBatch.FromWindows(tensor(message.Tokens.Select(token => (long)token).ToArray(), [message.Rows, message.Columns])));
            if (batches.Count == count)
            {
                break;
            }
        }

        return batches;
    }
}
