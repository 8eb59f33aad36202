using Microsoft.Extensions.Options;

namespace MsSwift.Training.Extensions;

internal static class Extensions
{
    /// <summary>
    /// One project, two roles (<c>Training:Role</c>): the coordinator publishes job events to
    /// Kafka; both roles keep membership, locks and parameter versions in Redis.
    /// </summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TrainingOptions>()
            .BindConfiguration(TrainingOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TrainingOptions>, TrainingOptionsValidator>();

        builder.AddRedis();
        if (builder.Configuration.GetValue<TrainingRole?>($"{TrainingOptions.SectionName}:{nameof(TrainingOptions.Role)}") is not TrainingRole.Worker)
        {
            builder.AddKafka();
        }
    }
}
