using Microsoft.Extensions.Options;
using MsSwift.Modeling.Checkpoints;
using MsSwift.Registry.Checkpoints;
using MsSwift.Registry.Events;
using MsSwift.Registry.Models;
using MsSwift.Registry.Storage;
using MsSwift.ServiceDefaults.Grpc;

namespace MsSwift.Registry.Extensions;

internal static class Extensions
{
    /// <summary>The registry keeps model records in Redis, reads checkpoints from the shared store, and publishes model events to Kafka.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddKafka();
        builder.AddRedis();

        builder.Services.AddOptions<RegistryOptions>().BindConfiguration(RegistryOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RegistryOptions>, RegistryOptionsValidator>();
        // Lazy: options are validated at start, after singletons like this are built.
        builder.Services.AddSingleton(services => new Lazy<ICheckpointStore>(() =>
        {
            var options = services.GetRequiredService<IOptions<RegistryOptions>>().Value;
            return CheckpointStores.Create(options.CheckpointDirectory, options.CheckpointS3);
        }));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<CheckpointInspector>();
        builder.Services.AddSingleton<CheckpointQuantizer>();
        builder.Services.AddSingleton<ModelStore>();
        builder.Services.AddSingleton<ModelEventOutbox>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelEventOutbox>());
        builder.Services.AddSingleton<RegistryService>();
        builder.Services.AddHostedService<Seeding.ModelSeeder>();
        builder.Services.AddGrpc(options => options.Interceptors.Add<ServiceErrorInterceptor>());
    }
}
