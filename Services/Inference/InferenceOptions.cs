using Microsoft.Extensions.Options;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference;

/// <summary>The <c>Inference</c> configuration section.</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>Root of the local checkpoint store shared with training.</summary>
    public string CheckpointDirectory { get; set; } = "";

    /// <summary>S3-compatible storage instead of <see cref="CheckpointDirectory"/>, when its bucket is set.</summary>
    public S3CheckpointStoreOptions CheckpointS3 { get; set; } = new();

    /// <summary>The model a request without a model name gets.</summary>
    public string DefaultModel { get; set; } = "demo";

    /// <summary>Versions to load at start; the one marked Production serves requests without a version.</summary>
    public List<ServedModelOptions> Models { get; set; } = [];

    /// <summary>
    /// Models whose every version is quantized to int8 as it loads (weights stay int8 in memory);
    /// a version registered int8 is served as it is. Empty: versions load as their checkpoints are.
    /// </summary>
    public List<string> Int8Models { get; set; } = [];

    /// <summary>Sequences decoded together per model version.</summary>
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>Requests waiting per model version before new ones are refused (ResourceExhausted).</summary>
    public int MaxQueueSize { get; set; } = 256;

    /// <summary>How long an idle engine waits to fill a batch; 0 never delays a lone request.</summary>
    public int MaxQueueDelayMs { get; set; }

    /// <summary>
    /// <c>adaptive</c> (the default): the batch and the moment to prefill follow measured step
    /// times and load, within <see cref="MaxBatchSize"/> slots. <c>fixed</c>: fill up to
    /// MaxBatchSize, prefilling under load once a quarter of the slots are free.
    /// </summary>
    public string Scheduler { get; set; } = "adaptive";

    /// <summary>Latency targets per model name (every version of it), for the adaptive scheduler.</summary>
    public Dictionary<string, LatencyTargetOptions> LatencyTargets { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Memory per model version for the keys and values of prompt prefixes that later requests
    /// reuse (automatic prefix caching); 0 turns it off.
    /// </summary>
    public int PrefixCacheMegabytes { get; set; } = (int)(BatcherOptions.DefaultPrefixCacheBytes >> 20);

    /// <summary>
    /// False (the default): a cached prefix is reused only by requests of the caller that computed
    /// it (the API key the gateway names in <c>x-msswift-caller</c>), so no caller can time whether
    /// another sent a prompt. True: every caller shares every prefix (one tenant, more hits).
    /// </summary>
    public bool SharePrefixCacheAcrossCallers { get; set; }

    /// <summary>
    /// The registry's gRPC address to reconcile with; empty means <c>http://_grpc.registry</c>
    /// when service discovery knows a registry, and no reconciliation otherwise.
    /// </summary>
    public string RegistryAddress { get; set; } = "";

    /// <summary>
    /// How long a replica's claim on an asynchronous request lasts without renewal (renewed every
    /// third of it while serving): after a replica dies, its requests are served by another after this.
    /// </summary>
    public int AsyncRequestLeaseSeconds { get; set; } = 30;

    /// <summary>How often the production set is reconciled with the registry (model events apply at once anyway).</summary>
    public int ReconcileSeconds { get; set; } = 30;
}

/// <summary><c>Inference:LatencyTargets:{model}</c>: what the adaptive scheduler admits by; 0 means no target.</summary>
public sealed class LatencyTargetOptions
{
    /// <summary>The longest a request should wait for its first token.</summary>
    public int MaxTimeToFirstTokenMs { get; set; }

    /// <summary>The time between two tokens of a sequence to stay under; caps the batch.</summary>
    public int TargetInterTokenLatencyMs { get; set; }
}

public sealed class ServedModelOptions
{
    public string Name { get; set; } = "";

    public string Version { get; set; } = "";

    /// <summary>Checkpoint name in the store, e.g. <c>tiny/v1/model.safetensors</c>.</summary>
    public string Checkpoint { get; set; } = "";

    public bool Production { get; set; }
}

internal sealed class InferenceOptionsValidator : IValidateOptions<InferenceOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceOptions options)
    {
        var failures = new List<string>();
        var section = InferenceOptions.SectionName;
        if (CheckpointStores.Problem(section, options.CheckpointDirectory, options.CheckpointS3) is { } problem)
        {
            failures.Add(problem);
        }

        if (string.IsNullOrWhiteSpace(options.DefaultModel))
        {
            failures.Add($"{section}:DefaultModel must not be empty");
        }

        if (options.MaxBatchSize is < 1 or > 1024)
        {
            failures.Add($"{section}:MaxBatchSize must be between 1 and 1024, got {options.MaxBatchSize}");
        }

        if (options.MaxQueueSize is < 1 or > 1_000_000)
        {
            failures.Add($"{section}:MaxQueueSize must be between 1 and 1000000, got {options.MaxQueueSize}");
        }

        if (options.MaxQueueDelayMs is < 0 or > 10_000)
        {
            failures.Add($"{section}:MaxQueueDelayMs must be between 0 and 10000, got {options.MaxQueueDelayMs}");
        }

        if (options.Scheduler is not ("adaptive" or "fixed"))
        {
            failures.Add($"{section}:Scheduler must be 'adaptive' or 'fixed', got '{options.Scheduler}'");
        }

        foreach (var (model, targets) in options.LatencyTargets)
        {
            if (targets.MaxTimeToFirstTokenMs is < 0 or > 600_000)
            {
                failures.Add($"{section}:LatencyTargets:{model}:MaxTimeToFirstTokenMs must be between 0 (none) and 600000, got {targets.MaxTimeToFirstTokenMs}");
            }

            if (targets.TargetInterTokenLatencyMs is < 0 or > 600_000)
            {
                failures.Add($"{section}:LatencyTargets:{model}:TargetInterTokenLatencyMs must be between 0 (none) and 600000, got {targets.TargetInterTokenLatencyMs}");
            }

            if ((targets.MaxTimeToFirstTokenMs > 0 || targets.TargetInterTokenLatencyMs > 0) && options.Scheduler == "fixed")
            {
                failures.Add($"{section}:LatencyTargets:{model} needs {section}:Scheduler 'adaptive': the fixed scheduler has no targets");
            }
        }

        if (options.PrefixCacheMegabytes is < 0 or > 1_048_576)
        {
            failures.Add($"{section}:PrefixCacheMegabytes must be between 0 and 1048576 (1 TiB), got {options.PrefixCacheMegabytes}");
        }

        if (options.AsyncRequestLeaseSeconds is < 3 or > 3600)
        {
            failures.Add($"{section}:AsyncRequestLeaseSeconds must be between 3 and 3600, got {options.AsyncRequestLeaseSeconds}");
        }

        if (options.ReconcileSeconds is < 1 or > 3600)
        {
            failures.Add($"{section}:ReconcileSeconds must be between 1 and 3600, got {options.ReconcileSeconds}");
        }

        if (options.RegistryAddress.Length > 0 && !Uri.TryCreate(options.RegistryAddress, UriKind.Absolute, out _))
        {
            failures.Add($"{section}:RegistryAddress must be an absolute URI such as http://_grpc.registry, got '{options.RegistryAddress}'");
        }

        for (var i = 0; i < options.Models.Count; i++)
        {
            var model = options.Models[i];
            if (string.IsNullOrWhiteSpace(model.Name) || string.IsNullOrWhiteSpace(model.Version) || string.IsNullOrWhiteSpace(model.Checkpoint))
            {
                failures.Add($"{section}:Models:{i} needs Name, Version and Checkpoint");
            }
        }

        for (var i = 0; i < options.Int8Models.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.Int8Models[i]))
            {
                failures.Add($"{section}:Int8Models:{i} must name a model");
            }
        }

        foreach (var group in options.Models.GroupBy(model => model.Name).Where(group => group.Count(model => model.Production) > 1))
        {
            failures.Add($"{section}:Models marks more than one version of '{group.Key}' as Production");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
