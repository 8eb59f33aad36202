using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Testing.Services;

/// <summary>The parameter server's gRPC service on a real loopback socket (h2c), with its jobs and wire metrics.</summary>
public sealed class ParameterServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ParameterServerHost(WebApplication app, int port)
    {
        _app = app;
        Jobs = app.Services.GetRequiredService<ParameterServerJobs>();
        Metrics = app.Services.GetRequiredService<WireMetrics>();
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions { MaxReceiveMessageSize = null });
        Client = new MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient(Channel);
    }

    public ParameterServerJobs Jobs { get; }

    public WireMetrics Metrics { get; }

    public GrpcChannel Channel { get; }

    public MsSwift.Contracts.Training.V1.ParameterServer.ParameterServerClient Client { get; }

    public static async Task<ParameterServerHost> StartAsync()
    {
        var port = FreeTcpPort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(options => options.Interceptors.Add<MsSwift.ServiceDefaults.Grpc.ServiceErrorInterceptor>());
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<ParameterServerJobs>();
        builder.Services.AddSingleton<WireMetrics>();
        var app = builder.Build();
        app.MapGrpcService<ParameterServerService>();
        await app.StartAsync();
        return new ParameterServerHost(app, port);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Jobs.Dispose();
    }
}
