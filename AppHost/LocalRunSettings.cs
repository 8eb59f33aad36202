namespace MsSwift.AppHost;

/// <summary>AppHost settings that shape a local run: how many training workers and inference replicas, which model is served first.</summary>
internal static class LocalRunSettings
{
    public const string DefaultModelName = "demo";
    private const int MaxWorkers = 64;
    private const int MaxInferenceReplicas = 16;

    /// <summary><c>Training:Workers</c> (default 1): worker processes, each one data-parallel rank of a job.</summary>
    public static int GetTrainingWorkerCount(this IDistributedApplicationBuilder builder) => builder.GetCount("Training:Workers", MaxWorkers);

    /// <summary><c>Inference:Replicas</c> (default 1): inference processes, all behind the gateway.</summary>
    public static int GetInferenceReplicaCount(this IDistributedApplicationBuilder builder) => builder.GetCount("Inference:Replicas", MaxInferenceReplicas);

    private static int GetCount(this IDistributedApplicationBuilder builder, string key, int max)
    {
        var value = builder.Configuration[key];
        if (value is null)
        {
            return 1;
        }

        return int.TryParse(value, out var count) && count >= 1 && count <= max
            ? count
            : throw new DistributedApplicationException($"{key} must be a whole number from 1 to {max}, got '{value}'");
    }

    /// <summary>
    /// In a local run, seeds <c>DefaultModel:Name</c> (default <c>demo</c>) from
    /// <c>DefaultModel:Directory</c> (default the repository's <c>data/models/shakespeare</c>) through
    /// the registry's <c>Registry:Seeds</c>: registered and promoted when the model has no version,
    /// left alone otherwise. An empty directory setting turns it off. Published deployments seed
    /// nothing: their images do not carry the repository's data.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithDefaultModel(this IResourceBuilder<ProjectResource> registry)
    {
        var builder = registry.ApplicationBuilder;
        var directory = builder.Configuration["DefaultModel:Directory"] ?? Path.Combine(builder.AppHostDirectory, "..", "data", "models", "shakespeare");
        if (builder.ExecutionContext.IsPublishMode || directory.Length == 0)
        {
            return registry;
        }

        return registry
            .WithEnvironment("Registry__Seeds__0__Model", builder.Configuration["DefaultModel:Name"] ?? DefaultModelName)
            .WithEnvironment("Registry__Seeds__0__Directory", Path.GetFullPath(directory));
    }
}
