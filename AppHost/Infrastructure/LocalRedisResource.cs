namespace MsSwift.AppHost.Infrastructure;

/// <summary>Redis as a local <c>redis-server</c> process, persisted to an append-only file in its working directory.</summary>
internal sealed class LocalRedisResource(string name, string workingDirectory)
    : ExecutableResource(name, "redis-server", workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference Endpoint => field ??= new(this, EndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Endpoint.Property(EndpointProperty.HostAndPort)}");
}
