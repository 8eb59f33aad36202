using Google.Rpc;
using MsSwift.Contracts.V1;
using MsSwift.Modeling.Gpt;

namespace MsSwift.Training.Jobs;

/// <summary>
/// What a job will cost before it starts: its model's parameter count and an estimate of the
/// memory the largest of its processes needs, checked against the coordinator's caps
/// (<c>Training:MaxModelParameters</c>, <c>Training:MaxJobMemoryMiB</c>).
/// </summary>
/// <remarks>
/// The estimate, in bytes, for N parameters (fp32, 4 bytes each) is the larger of
/// <list type="bullet">
/// <item>the coordinator, which holds the job's parameter server and evaluator:
/// 4·N·(8 + workers) (master weights, their gradients, AdamW's two moments, the averaged
/// gradient, two published parameter snapshots, the evaluator's model copy, and one pending
/// gradient per worker), plus the activations of one evaluation batch;</item>
/// <item>a worker: 4·N·4 (its replica, gradients, the pulled parameters and the pushed
/// gradient) plus the activations of one micro-batch.</item>
/// </list>
/// Activations of R rows of T tokens: R·T·(2·L·(34·W + 5·H·T) + 12·V) bytes, after Korthikanti et
/// al.'s per-layer count (34·W + 5·H·T bytes per token in 16-bit, doubled for fp32) plus the
/// logits, their softmax and its gradient. It is an estimate for refusing jobs that cannot fit,
/// not an allocator's promise.
/// </remarks>
public static class JobBudget
{
    /// <summary>Parameters of a GPT-2-style model with a tied output head.</summary>
    public static long Parameters(GptConfig config)
    {
        long width = config.Width;
        // Per block: two LayerNorms (2·2W), c_attn (W·3W + 3W), attention c_proj (W·W + W),
        // c_fc (W·4W + 4W) and MLP c_proj (4W·W + W).
        var block = 12 * width * width + 13 * width;
        return (config.VocabSize + (long)config.ContextLength) * width + config.Layers * block + 2 * width;
    }

    /// <summary>The estimated peak memory of the job's largest process (see the remarks).</summary>
    public static long EstimatedBytes(TrainRequest request, GptConfig config)
    {
        var parameters = Parameters(config);
        var activations = Activations(request.BatchSize, request.Window, config);
        var coordinator = 4 * parameters * (8 + request.Workers) + activations;
        var worker = 4 * parameters * 4 + activations;
        return Math.Max(coordinator, worker);
    }

    /// <summary>What is over the caps, as field violations (none when the job fits).</summary>
    public static List<BadRequest.Types.FieldViolation> Check(TrainRequest request, GptConfig config, TrainingOptions options)
    {
        var violations = new List<BadRequest.Types.FieldViolation>();
        var parameters = Parameters(config);
        if (parameters > options.MaxModelParameters)
        {
            violations.Add(new()
            {
                Field = "shape",
                Description = $"the model would have {parameters} parameters; this coordinator trains at most {options.MaxModelParameters} ({TrainingOptions.SectionName}:{nameof(TrainingOptions.MaxModelParameters)}): fewer layers, a smaller width or context length",
            });
            return violations;
        }

        var mebibytes = (EstimatedBytes(request, config) + (1 << 20) - 1) >> 20;
        if (mebibytes > options.MaxJobMemoryMiB)
        {
            violations.Add(new()
            {
                Field = "batch_size",
                Description = $"the job needs an estimated {mebibytes} MiB in its largest process; this coordinator allows {options.MaxJobMemoryMiB} MiB per job ({TrainingOptions.SectionName}:{nameof(TrainingOptions.MaxJobMemoryMiB)}): a smaller batch_size, window, shape or fewer workers",
            });
        }

        return violations;
    }

    private static long Activations(long rows, long tokens, GptConfig config) =>
        rows * tokens * (2L * config.Layers * (34L * config.Width + 5L * config.Heads * tokens) + 12L * config.VocabSize);
}
