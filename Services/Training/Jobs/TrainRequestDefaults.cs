using Google.Rpc;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;

namespace MsSwift.Training.Jobs;

/// <summary>
/// Fills a Train request's defaults and lists what is wrong with it, before anything starts. A
/// fine-tune (init_from) is checked here for its syntax only; whether it may start from that
/// version is <see cref="FineTuneRules"/>' call, once the registry and the dataset are read.
/// </summary>
public static class TrainRequestDefaults
{
    public static (TrainRequest Request, List<BadRequest.Types.FieldViolation> Violations) Apply(TrainRequest original)
    {
        var request = original.Clone();
        var violations = new List<BadRequest.Types.FieldViolation>();
        void Check(bool ok, string field, string description)
        {
            if (!ok)
            {
                violations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });
            }
        }

        // A fine-tune's shape comes from the version it starts from (FineTuneRules fill it, once the
        // registry is read), and its result is a new version of that model.
        var fineTune = request.InitFrom is not null;
        request.Model = request.Model.Length > 0 ? request.Model : fineTune ? request.InitFrom!.Model : request.Dataset;
        request.Steps = request.Steps == 0 ? 100 : request.Steps;
        request.BatchSize = request.BatchSize == 0 ? 8 : request.BatchSize;
        request.Window = request.Window == 0 ? 64 : request.Window;
        request.LearningRate = request.LearningRate == 0 ? 3e-4 : request.LearningRate;
        request.CheckpointEvery = request.CheckpointEvery == 0 ? 50 : request.CheckpointEvery;
        request.AccumulationSteps = request.AccumulationSteps == 0 ? 1 : request.AccumulationSteps;
        request.EvalEvery = request.EvalEvery == 0 ? request.CheckpointEvery : request.EvalEvery;
        request.EvalBatches = request.EvalBatches == 0 ? 8 : request.EvalBatches;
        request.MinWorkers = request.MinWorkers == 0 ? request.Workers : request.MinWorkers;
        request.MaxWorkers = request.MaxWorkers == 0 ? request.Workers : request.MaxWorkers;
        request.Shape ??= new ModelShape();
        if (!fineTune)
        {
            request.Shape.Layers = request.Shape.Layers == 0 ? 2 : request.Shape.Layers;
            request.Shape.Heads = request.Shape.Heads == 0 ? 4 : request.Shape.Heads;
            request.Shape.Width = request.Shape.Width == 0 ? 128 : request.Shape.Width;
            request.Shape.ContextLength = request.Shape.ContextLength == 0 ? 256 : request.Shape.ContextLength;
        }

        Check(ResourceNames.IsValid(request.Dataset), "dataset", $"a dataset name: {ResourceNames.Rule}");
        Check(ResourceNames.IsValid(request.Model), "model", $"a model name: {ResourceNames.Rule}");
        Check(request.Workers is >= 1 and <= 64, "workers", "1-64: the shards of every step's global batch (and by default the workers that compute them)");
        Check(request.MaxWorkers >= 1 && request.MaxWorkers <= request.Workers, "max_workers",
            "1 to workers: workers is the number of shards of every step's global batch, and a worker beyond one per shard would idle");
        Check(request.MinWorkers >= 1 && request.MinWorkers <= request.MaxWorkers, "min_workers", "1 to max_workers: the first step waits until this many joined");
        Check(request.Steps is >= 1 and <= 1_000_000, "steps", "1-1000000");
        Check(request.BatchSize is >= 1 and <= 1024, "batch_size", "1-1024");
        Check(request.Window >= 8 && (fineTune || request.Window <= request.Shape.ContextLength), "window", $"8 to the context length ({request.Shape.ContextLength})");
        Check(request.BatchSize * (request.Window + 1L) <= DataLimits.MaxBatchTokens, "batch_size",
            $"batch_size x (window + 1) tokens are one micro-batch, which the data service serves up to {DataLimits.MaxBatchTokens} of");
        Check(request.LearningRate is > 0 and <= 1, "learning_rate", "in (0, 1]");
        Check(request.CheckpointEvery >= 1, "checkpoint_every", "at least 1");
        Check(Enum.IsDefined(request.WireFormat), "wire_format", "FP16, FP32 or BF16");
        Check(request.AccumulationSteps is >= 1 and <= 64, "accumulation_steps", "1-64 micro-batches per worker per step");
        Check(Enum.IsDefined(request.Precision), "precision", "FP32 or BF16_MIXED");
        Check(Enum.IsDefined(request.Sampling), "sampling", "RANDOM or SEQUENTIAL");
        Check(request.EvalEvery >= 1, "eval_every", "at least 1");
        Check(request.EvalBatches is >= 1 and <= 256, "eval_batches", "1-256");
        if (fineTune)
        {
            var source = request.InitFrom!;
            Check(ResourceNames.IsValid(source.Model), "init_from.model", $"the registered model to start from: {ResourceNames.Rule}");
            Check(source.Version.Length == 0 || ResourceNames.IsValid(source.Version), "init_from.version", $"its version ({ResourceNames.Rule}), or empty for the production version");
            Check(request.Model == source.Model, "model", $"a fine-tune registers a new version of init_from.model '{source.Model}': leave model unset or name that model");
            return (request, violations);
        }

        Check(request.Shape.Layers is >= 1 and <= 48, "shape.layers", "1-48");
        Check(request.Shape.Heads >= 1 && request.Shape.Width % request.Shape.Heads == 0, "shape.heads", "at least 1, dividing the width");
        Check(request.Shape.Width is >= 8 and <= 4096, "shape.width", "8-4096");
        Check(request.Shape.ContextLength is >= 8 and <= 8192, "shape.context_length", "8-8192");
        return (request, violations);
    }
}
