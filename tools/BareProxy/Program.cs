using Microsoft.AspNetCore.Server.Kestrel.Core;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

// The gateway benchmark's reference point: YARP and nothing else (no keys, limits, transforms,
// health checks or telemetry), forwarding every h2c request on port args[0] to args[1] over
// HTTP/2. What it adds to a call is the floor for any YARP-based gateway on the machine.
if (args.Length != 2 || !int.TryParse(args[0], out var port) || !Uri.TryCreate(args[1], UriKind.Absolute, out var backend))
{
    Console.Error.WriteLine("usage: MsSwift.BareProxy <port> <backend url>");
    return 2;
}

var builder = WebApplication.CreateBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "backend", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig
    {
        ClusterId = "backend",
        Destinations = new Dictionary<string, DestinationConfig> { ["backend"] = new() { Address = backend.ToString() } },
        HttpRequest = new ForwarderRequestConfig { Version = new Version(2, 0), VersionPolicy = HttpVersionPolicy.RequestVersionExact },
    }]);
var app = builder.Build();
app.MapReverseProxy();
await app.RunAsync();
return 0;
