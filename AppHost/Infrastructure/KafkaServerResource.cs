namespace MsSwift.AppHost.Infrastructure;

/// <summary>A single-node Apache Kafka container in KRaft mode.</summary>
internal sealed class KafkaServerResource(string name) : ContainerResource(name), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";
    public const string InternalEndpointName = "internal";
    // KAFKA_LISTENERS in KafkaInfrastructure spells these ports out (9094 is the KRaft controller).
    public const int Port = 9092;
    public const int InternalPort = 9093;

    public EndpointReference Endpoint => field ??= new(this, EndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Endpoint.Property(EndpointProperty.HostAndPort)}");
}
