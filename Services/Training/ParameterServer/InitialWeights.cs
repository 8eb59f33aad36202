using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Gpt;

namespace MsSwift.Training.ParameterServer;

/// <summary>
/// The master weights a job's parameter server starts from when the job has no checkpoint of its
/// own yet: random ones drawn from the job's seed, or, for a fine-tune, the registered version's
/// checkpoint (the spec's <see cref="ParameterServerJobSpec.InitialCheckpoint"/>).
/// </summary>
public static class InitialWeights
{
    public static async Task<GptModel> CreateAsync(ParameterServerJobSpec spec, ICheckpointStore store, CancellationToken cancellationToken)
    {
        if (spec.InitialCheckpoint is null)
        {
            return GptModel.CreateSeeded(spec.Config, spec.Seed);
        }

        var checkpoint = await spec.InitialCheckpoint(cancellationToken);
        // Loaded on the CPU like a resumed job's; workers build their replicas from the job's shape, so it must be this one.
        var loaded = await GptCheckpoint.LoadAsync(store, checkpoint, TorchSharp.torch.CPU, cancellationToken);
        if (loaded.Model.Config != spec.Config || loaded.Model.IsInt8)
        {
            loaded.Dispose();
            throw new InvalidDataException(
                $"checkpoint '{checkpoint}' holds {(loaded.Model.IsInt8 ? "an int8 model" : $"a model of shape {loaded.Model.Config}")}; job {spec.JobId} trains fp32 {spec.Config}");
        }

        loaded.Model.train();
        return loaded.Model;
    }
}
