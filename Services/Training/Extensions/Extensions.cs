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
        // An invalid role is reported by options binding at start, naming the key; here only
        // the valid "Worker" value changes what is registered.
        var role = builder.Configuration[$"{TrainingOptions.SectionName}:{nameof(TrainingOptions.Role)}"];
        if (!string.Equals(role, nameof(TrainingRole.Worker), StringComparison.OrdinalIgnoreCase))
        {
            builder.AddKafka();
        }
    }
}
