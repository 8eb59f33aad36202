using Microsoft.Extensions.Options;
using MsSwift.Data.Datasets;
using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Grpc;

namespace MsSwift.Data.Extensions;

internal static class Extensions
{
    /// <summary>The data service stores token streams in blob storage and lists dataset versions in Redis.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddRedis();
        builder.Services.AddOptions<DataOptions>().BindConfiguration(DataOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DataOptions>, DataOptionsValidator>();
        // Lazy: options are validated at start, after singletons like this are built.
        builder.Services.AddSingleton(services => new Lazy<ICheckpointStore>(() =>
        {
            var options = services.GetRequiredService<IOptions<DataOptions>>().Value;
            return CheckpointStores.Create(options.StorageDirectory, options.StorageS3);
        }));
        builder.Services.AddSingleton<TokenFileCache>();
        builder.Services.AddSingleton<DatasetStore>();
        builder.Services.AddSingleton<DatasetIngest>();
        builder.Services.AddGrpc(options => options.Interceptors.Add<ServiceErrorInterceptor>());
        builder.Services.AddProblemDetails();
    }
}
