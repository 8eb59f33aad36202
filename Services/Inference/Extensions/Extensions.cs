using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Options;
using MsSwift.Inference.Kafka;
using MsSwift.Inference.Models;
using MsSwift.Inference.Oip;
using MsSwift.Inference.Serving;
using MsSwift.Modeling;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Contracts.Registry.V1;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MsSwift.Inference.Extensions;

internal static class Extensions
{
    /// <summary>
    /// Inference serves model versions from the shared checkpoint store through continuous
    /// batchers; it reads model events and async requests from Kafka and shares state in Redis.
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddKafka();
        builder.AddRedis();
        TorchRuntime.Configure(builder.Configuration);

        builder.Services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<InferenceOptions>, InferenceOptionsValidator>();

        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<InferenceOptions>>().Value;
            return CheckpointStores.Create(options.CheckpointDirectory, options.CheckpointS3);
        });
        // Hosted services are built before options are validated at start: taking the store lazily
        // lets validation report every bad setting at once instead of failing inside a constructor.
        builder.Services.AddSingleton(services => new Lazy<ICheckpointStore>(services.GetRequiredService<ICheckpointStore>));
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<PredictExecutor>();
        builder.Services.AddSingleton<RequestMetrics>();
        builder.Services.AddSingleton<OipInference>();
        builder.Services.AddSingleton<OipModels>();
        builder.Services.AddSingleton(services => new BatcherMetrics(services.GetRequiredService<IMeterFactory>().Create(BatcherMetrics.MeterName)));
        builder.Services.AddSingleton<ModelBootstrapper>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelBootstrapper>());
        builder.Services.AddSingleton<ModelRollout>();
        builder.Services.AddKafkaConsumer<ModelEventsHandler>();
        if (RegistryAddress(builder.Configuration) is { } registry)
        {
            builder.Services.TryAddSingleton(TimeProvider.System);
            builder.Services.AddServiceGrpcClient<ModelRegistry.ModelRegistryClient>(registry);
            builder.Services.AddHostedService<ModelReconciler>();
        }
        builder.Services.AddSingleton<RequestLedger>();
        builder.Services.AddKafkaConsumer<AsyncPredictHandler>();
        builder.Services.AddHealthChecks().AddCheck<ModelReadinessHealthCheck>("model");

        // OpenAI's wire format: snake_case names, nulls written as null.
        builder.Services.AddSingleton(new JsonSerializerOptions(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
    }

    /// <summary>The registry to reconcile with: the configured address, else the one service discovery knows, else none.</summary>
    private static string? RegistryAddress(IConfiguration configuration) =>
        configuration[$"{InferenceOptions.SectionName}:{nameof(InferenceOptions.RegistryAddress)}"] is { Length: > 0 } configured ? configured
        : configuration.GetSection("services:registry:grpc").Exists() ? "http://_grpc.registry"
        : null;
}
