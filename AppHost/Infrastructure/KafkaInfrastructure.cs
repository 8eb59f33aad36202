using System.Reflection;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MsSwift.Contracts;

namespace MsSwift.AppHost.Infrastructure;

internal static class KafkaInfrastructure
{
    /// <summary>Adds the <c>kafka</c> resource in the shape <paramref name="mode"/> asks for.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddMsSwiftKafka(
        this IDistributedApplicationBuilder builder, InfrastructureMode mode, string name = "kafka") => mode switch
        {
            InfrastructureMode.Local => builder.AddKafkaDevBroker(name),
            InfrastructureMode.Containers => builder.AddKafkaContainer(name),
            _ => builder.AddConnectionString(name),
        };

    private static IResourceBuilder<KafkaDevBrokerResource> AddKafkaDevBroker(this IDistributedApplicationBuilder builder, string name)
    {
        var brokerPath = typeof(KafkaInfrastructure).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(attribute => attribute.Key == "KafkaDevBrokerPath").Value!;
        var resource = new KafkaDevBrokerResource(name, Path.GetDirectoryName(brokerPath)!);

        return builder.AddResource(resource)
            .WithEndpoint(name: KafkaDevBrokerResource.EndpointName, scheme: "tcp", env: "PORT")
            .WithArgs("exec", brokerPath)
            .WithKafkaHealthCheck(resource, requireProductTopics: true);
    }

    private static IResourceBuilder<KafkaServerResource> AddKafkaContainer(this IDistributedApplicationBuilder builder, string name)
    {
        var resource = new KafkaServerResource(name);
        var endpoint = resource.Endpoint;
        // Clients on the host reach the published port; containers (and Kubernetes pods) reach the
        // broker by its resource name on the internal listener.
        var internalListener = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"PLAINTEXT_INTERNAL://{name}:{KafkaServerResource.InternalPort}");
        var advertised = builder.ExecutionContext.IsPublishMode
            ? ReferenceExpression.Create($"PLAINTEXT://{endpoint.Property(EndpointProperty.Host)}:{endpoint.Property(EndpointProperty.Port)},{internalListener}")
            : ReferenceExpression.Create($"PLAINTEXT://localhost:{endpoint.Property(EndpointProperty.Port)},{internalListener}");

        return builder.AddResource(resource)
            .WithImage("apache/kafka", "4.1.1")
            .WithImageRegistry("docker.io")
            .WithEndpoint(targetPort: KafkaServerResource.Port, name: KafkaServerResource.EndpointName, scheme: "tcp")
            .WithEndpoint(targetPort: KafkaServerResource.InternalPort, name: KafkaServerResource.InternalEndpointName, scheme: "tcp")
            .WithEnvironment("KAFKA_NODE_ID", "1")
            .WithEnvironment("KAFKA_PROCESS_ROLES", "broker,controller")
            .WithEnvironment("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9094")
            .WithEnvironment("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            .WithEnvironment("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092,PLAINTEXT_INTERNAL://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094")
            .WithEnvironment("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "PLAINTEXT:PLAINTEXT,PLAINTEXT_INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT")
            .WithEnvironment("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT_INTERNAL")
            .WithEnvironment("KAFKA_ADVERTISED_LISTENERS", advertised)
            .WithEnvironment("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
            .WithEnvironment("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .WithEnvironment("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .WithEnvironment("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            // As in production, nothing appears on first use: the services create the product's
            // topics at start (AddKafka), with the dev broker's partition count.
            .WithEnvironment("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .WithEnvironment("KAFKA_NUM_PARTITIONS", "4")
            .WithKafkaHealthCheck(resource, requireProductTopics: false);
    }

    private static IResourceBuilder<T> WithKafkaHealthCheck<T>(this IResourceBuilder<T> builder, IResourceWithConnectionString kafka, bool requireProductTopics)
        where T : IResource
    {
        var key = $"{kafka.Name}-metadata";
        builder.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            key, _ => new KafkaMetadataHealthCheck(kafka, requireProductTopics), failureStatus: null, tags: null));
        return builder.WithHealthCheck(key);
    }

    /// <summary>Healthy when the broker answers a metadata request (and, for the dev broker, lists every product topic).</summary>
    private sealed class KafkaMetadataHealthCheck(IResourceWithConnectionString kafka, bool requireProductTopics) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var bootstrap = await kafka.GetConnectionStringAsync(cancellationToken);
            try
            {
                var topics = await Task.Run(() =>
                {
                    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
                    return admin.GetMetadata(TimeSpan.FromSeconds(3)).Topics.Select(topic => topic.Topic).ToHashSet();
                }, cancellationToken);

                var missing = requireProductTopics ? KafkaTopics.All.Where(topic => !topics.Contains(topic)).ToList() : [];
                return missing.Count == 0
                    ? HealthCheckResult.Healthy()
                    : HealthCheckResult.Unhealthy($"topics not created yet: {string.Join(", ", missing)}");
            }
            catch (KafkaException e)
            {
                return HealthCheckResult.Unhealthy($"no answer from {bootstrap}: {e.Error.Reason}", e);
            }
        }
    }
}
