using Microsoft.AspNetCore.Server.Kestrel.Core;
using MsSwift.Testing;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>
/// A real service host built the way every MsSwift service is (AddServiceDefaults, then Kafka
/// and/or Redis), listening on two free loopback ports: HTTP/1.1 and cleartext HTTP/2 (gRPC).
/// </summary>
internal static class ServiceHost
{
    public static (WebApplication App, int HttpPort, int GrpcPort) Build(
        IDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null) =>
        Build(settings, (builder, _, _) => configure?.Invoke(builder));

    /// <summary>As above, for services that need their own ports (to call themselves).</summary>
    public static (WebApplication App, int HttpPort, int GrpcPort) Build(
        IDictionary<string, string?> settings, Action<WebApplicationBuilder, int, int> configure)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(settings);
        var httpPort = FreeTcpPort.Next();
        var grpcPort = FreeTcpPort.Next();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenLocalhost(httpPort, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.ListenLocalhost(grpcPort, listen => listen.Protocols = HttpProtocols.Http2);
        });
        builder.AddServiceDefaults();
        configure(builder, httpPort, grpcPort);

        var app = builder.Build();
        app.MapDefaultEndpoints();
        return (app, httpPort, grpcPort);
    }
}
