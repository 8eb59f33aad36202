namespace MsSwift.AppHost.Infrastructure;

/// <summary>
/// The Kafka dev broker (tools/KafkaDevBroker: librdkafka's mock cluster in a small process) with
/// the product's topics created at start. Kafka protocol, in memory only.
/// </summary>
internal sealed class KafkaDevBrokerResource(string name, string workingDirectory)
    : ExecutableResource(name, "dotnet", workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference Endpoint => field ??= new(this, EndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Endpoint.Property(EndpointProperty.HostAndPort)}");
}
