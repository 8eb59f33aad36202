using System.Globalization;
using System.Text.Json;
using Grpc.Net.Client;

namespace MsSwift.Testing.Services;

/// <summary>
/// One of the product's services run as a real process (<c>dotnet exec</c> on its built
/// assembly), with an HTTP/1.1+2 port and an h2c gRPC port on loopback, as the AppHost runs it.
/// </summary>
public abstract class ServiceProcess : ChildProcess
{
    protected ServiceProcess(string pathMetadata, int httpPort, int grpcPort, IReadOnlyDictionary<string, string?> settings)
        : base("dotnet", ["exec", ServicePath(pathMetadata)], Environment(httpPort, grpcPort, settings), System.IO.Path.GetDirectoryName(ServicePath(pathMetadata)))
    {
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        Channel = GrpcChannel.ForAddress(GrpcAddress);
    }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}");

    public Uri GrpcAddress => new($"http://127.0.0.1:{GrpcPort.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>A channel to the gRPC port, disposed with the process.</summary>
    public GrpcChannel Channel { get; }

    /// <summary>Ends the process at once, as a crash would (no graceful shutdown).</summary>
    public void Kill() => KillNow();

    /// <summary>SIGTERM, as Kubernetes scaling a Deployment down sends: the service shuts down cleanly; waits until it exited.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        using (var signal = System.Diagnostics.Process.Start("kill", ["-TERM", ProcessId.ToString(CultureInfo.InvariantCulture)]))
        {
            await signal.WaitForExitAsync();
        }

        await WaitForExitAsync(timeout);
    }

    /// <summary>Waits until <c>/healthz</c> reports ready; returns the last answer either way.</summary>
    public async Task<HttpResponseMessage> WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = HttpAddress };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await http.GetAsync("/healthz");
            if (response.IsSuccessStatusCode || DateTime.UtcNow > deadline)
            {
                return response;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits for the process to listen, then to be ready; fails with its output otherwise.</summary>
    protected static async Task<T> ReadyAsync<T>(T service, TimeSpan timeout) where T : ServiceProcess
    {
        await ListeningAsync(service, service.HttpPort, timeout);
        var ready = await service.WaitUntilReadyAsync(timeout);
        if (!ready.IsSuccessStatusCode)
        {
            var body = await ready.Content.ReadAsStringAsync();
            await service.DisposeAsync();
            throw new InvalidOperationException($"{service.GetType().Name} never became ready: {body}{System.Environment.NewLine}{service.Output}");
        }

        return service;
    }

    public override async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// What a built service loads at run time, by library name (packages and projects, from its
    /// <c>deps.json</c>): what its image has to carry.
    /// </summary>
    public static IReadOnlySet<string> RuntimeLibraries(string pathMetadata)
    {
        using var deps = JsonDocument.Parse(File.ReadAllBytes(System.IO.Path.ChangeExtension(ServicePath(pathMetadata), ".deps.json")));
        return deps.RootElement.GetProperty("libraries").EnumerateObject()
            .Select(library => library.Name.Split('/')[0])
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    private static string ServicePath(string metadata) =>
        BuildMetadata.Get(typeof(ServiceProcess).Assembly, metadata);

    private static Dictionary<string, string?> Environment(int httpPort, int grpcPort, IReadOnlyDictionary<string, string?> settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpcPort.ToString(CultureInfo.InvariantCulture)}",
            ["Kestrel__Endpoints__Grpc__Protocols"] = "Http2",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return environment;
    }
}
