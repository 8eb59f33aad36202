using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.Data.V1;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Modeling;
using MsSwift.Modeling.Checkpoints;
using MsSwift.ServiceDefaults.Grpc;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Training.Jobs;
using MsSwift.Training.ParameterServer;
using MsSwift.Training.Workers;

namespace MsSwift.Training.Extensions;

internal static class Extensions
{
    /// <summary>
    /// One project, two roles (<c>Training:Role</c>): the coordinator runs the Train API and the
    /// jobs' parameter servers; workers compute gradients. Both keep job state, worker slots,
    /// locks and parameter versions in Redis, and read data from the data service.
    /// </summary>
    public static TrainingRole AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TrainingOptions>()
            .BindConfiguration(TrainingOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TrainingOptions>, TrainingOptionsValidator>();
        TorchRuntime.Configure(builder.Configuration);

        builder.AddRedis();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<RedisLock>();
        builder.Services.AddSingleton<JobStore>();
        builder.Services.AddSingleton<JobChanges>();
        // One thread for the process's libtorch work on the step path (a worker's gradients, a parameter server's update).
        builder.Services.AddSingleton(_ => new TorchThread("msswift-training"));
        builder.Services.AddServiceGrpcClient<DataService.DataServiceClient>("http://_grpc.data");
        // An invalid role is reported by options binding at start, naming the key.
        var role = string.Equals(builder.Configuration[$"{TrainingOptions.SectionName}:{nameof(TrainingOptions.Role)}"], nameof(TrainingRole.Worker), StringComparison.OrdinalIgnoreCase)
            ? TrainingRole.Worker
            : TrainingRole.Coordinator;
        if (role == TrainingRole.Worker)
        {
            // Workers dial each job's leader at the address its record names, not a service name.
            builder.Services.AddSingleton<LeaderChannels>();
            builder.Services.AddSingleton<WorkerMetrics>();
            builder.Services.AddHostedService<WorkerLoop>();
            return role;
        }

        builder.AddKafka();
        // Workers push whole gradients as one stream; see WireCodec.Http2WindowBytes. Configuration can raise it further.
        builder.Services.Configure<KestrelServerOptions>(options =>
        {
            var http2 = options.Limits.Http2;
            http2.InitialConnectionWindowSize = Math.Max(http2.InitialConnectionWindowSize, WireCodec.Http2WindowBytes);
            http2.InitialStreamWindowSize = Math.Max(http2.InitialStreamWindowSize, WireCodec.Http2WindowBytes);
        });
        builder.Services.AddSingleton(services => new Lazy<ICheckpointStore>(() =>
        {
            var options = services.GetRequiredService<IOptions<TrainingOptions>>().Value;
            return CheckpointStores.Create(options.CheckpointDirectory, options.CheckpointS3);
        }));
        builder.Services.AddSingleton<JobHistory>();
        builder.Services.AddSingleton<ParameterServerJobs>();
        builder.Services.AddSingleton<WireMetrics>();
        builder.Services.AddSingleton<TrainingMetrics>();
        builder.Services.AddServiceGrpcClient<ModelRegistryAdmin.ModelRegistryAdminClient>("http://_grpc.registry");
        builder.Services.AddServiceGrpcClient<ModelRegistry.ModelRegistryClient>("http://_grpc.registry");
        builder.Services.AddSingleton<FineTuneSource>();
        builder.Services.AddSingleton<TrainingEventOutbox>();
        builder.Services.AddHostedService(services => services.GetRequiredService<TrainingEventOutbox>());
        builder.Services.AddSingleton<JobFinisher>();
        builder.Services.AddSingleton<AdvertisedAddress>();
        builder.Services.AddSingleton(services => new LedJobServices(
            services.GetRequiredService<JobStore>(), services.GetRequiredService<JobChanges>(), services.GetRequiredService<JobHistory>(),
            services.GetRequiredService<JobFinisher>(), services.GetRequiredService<TrainingMetrics>(), services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger<LedJob>()));
        builder.Services.AddSingleton<JobCoordinator>();
        builder.Services.AddHostedService<JobRecovery>();
        builder.Services.AddProblemDetails();
        builder.Services.AddGrpc(options => options.Interceptors.Add<ServiceErrorInterceptor>());
        return role;
    }
}
