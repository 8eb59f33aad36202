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
using ParameterServerClient = MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient;

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

        // Domain refusals (ServiceException) become gRPC statuses with their field violations.
        builder.Services.AddGrpc(options => options.Interceptors.Add<ServiceErrorInterceptor>());
        builder.AddRedis();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<RedisLock>();
        builder.Services.AddSingleton<JobRecords>();
        builder.Services.AddServiceGrpcClient<DataService.DataServiceClient>("http://_grpc.data");
        // An invalid role is reported by options binding at start, naming the key.
        var role = string.Equals(builder.Configuration[$"{TrainingOptions.SectionName}:{nameof(TrainingOptions.Role)}"], nameof(TrainingRole.Worker), StringComparison.OrdinalIgnoreCase)
            ? TrainingRole.Worker
            : TrainingRole.Coordinator;
        if (role == TrainingRole.Worker)
        {
            builder.Services.AddServiceGrpcClient<ParameterServerClient>("http://_grpc.training")
                .ConfigureChannel(channel => channel.MaxReceiveMessageSize = null);
            builder.Services.AddHostedService<WorkerLoop>();
            return role;
        }

        builder.AddKafka();
        builder.Services.AddSingleton(services => new Lazy<ICheckpointStore>(() =>
        {
            var options = services.GetRequiredService<IOptions<TrainingOptions>>().Value;
            return CheckpointStores.Create(options.CheckpointDirectory, options.CheckpointS3);
        }));
        builder.Services.AddSingleton<JobStateStore>();
        builder.Services.AddSingleton<JobHistory>();
        builder.Services.AddSingleton<ParameterServerJobs>();
        builder.Services.AddSingleton<WireMetrics>();
        builder.Services.AddSingleton<TrainingMetrics>();
        builder.Services.AddServiceGrpcClient<ModelRegistryAdmin.ModelRegistryAdminClient>("http://_grpc.registry");
        builder.Services.AddServiceGrpcClient<ModelRegistry.ModelRegistryClient>("http://_grpc.registry");
        builder.Services.AddSingleton<FineTuneSource>();
        builder.Services.AddSingleton<TrainingEventPublisher>();
        builder.Services.AddHostedService(services => services.GetRequiredService<TrainingEventPublisher>());
        builder.Services.AddSingleton<JobCoordinator>();
        builder.Services.AddHostedService<JobRecovery>();
        builder.Services.AddProblemDetails();
        return role;
    }
}
