using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using MsSwift.Contracts;
using MsSwift.ServiceDefaults.Kafka;

namespace Microsoft.Extensions.Hosting;

public static class KafkaExtensions
{
    /// <summary>
    /// Registers the shared <see cref="KafkaProducer"/>, a <see cref="KafkaConsumerFactory"/>, a
    /// broker health check, Kafka tracing, and the creation of the product's topics at start
    /// (<see cref="KafkaTopicProvisioner"/>; not ready until they exist). Settings are validated when the host starts; a
    /// missing <c>ConnectionStrings:kafka</c> stops the service before it listens. An unreachable
    /// broker makes the service <paramref name="failureStatus"/>: Unhealthy (not ready) by default;
    /// Degraded for a service that still does most of its work without Kafka.
    /// </summary>
    public static TBuilder AddKafka<TBuilder>(this TBuilder builder, HealthStatus failureStatus = HealthStatus.Unhealthy) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<KafkaOptions>()
            .BindConfiguration(KafkaOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
            {
                options.BootstrapServers = configuration.GetConnectionString(KafkaOptions.ConnectionStringName) ?? "";
                options.ClientId ??= builder.Environment.ApplicationName;
            })
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaOptions>, KafkaOptionsValidator>());

        builder.Services.TryAddSingleton<KafkaProducer>();
        builder.Services.TryAddSingleton<KafkaConsumerFactory>();
        builder.Services.AddHealthChecks().AddCheck<KafkaHealthCheck>("kafka", failureStatus);
        builder.Services.TryAddSingleton<KafkaConsumerHealth>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton(services => ActivatorUtilities.CreateInstance<KafkaTopicProvisioner>(services, KafkaTopics.All));
        builder.Services.AddHostedService(services => services.GetRequiredService<KafkaTopicProvisioner>());
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            "kafka-topics", services => services.GetRequiredService<KafkaTopicProvisioner>(), failureStatus, tags: null));
        return builder;
    }

    /// <summary>
    /// Runs <typeparamref name="THandler"/> in the shared <see cref="KafkaConsumerLoop{THandler}"/>
    /// (call <see cref="AddKafka"/> first). The service is unready while a loop has stopped on a fatal error.
    /// </summary>
    public static IServiceCollection AddKafkaConsumer<THandler>(this IServiceCollection services) where THandler : class, IKafkaMessageHandler
    {
        services.TryAddSingleton<THandler>();
        services.AddHostedService<KafkaConsumerLoop<THandler>>();
        if (!services.Any(service => service.ServiceType == typeof(ConsumerHealthRegistered)))
        {
            services.AddSingleton<ConsumerHealthRegistered>();
            services.AddHealthChecks().Add(new HealthCheckRegistration("kafka-consumers",
                provider => provider.GetRequiredService<KafkaConsumerHealth>(), HealthStatus.Unhealthy, tags: null));
        }

        return services;
    }

    /// <summary>Marks that the consumer health check is registered, so it is registered once.</summary>
    private sealed class ConsumerHealthRegistered;
}
