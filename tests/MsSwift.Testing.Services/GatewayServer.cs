using System.Globalization;

namespace MsSwift.Testing.Services;

/// <summary>An API key a test gateway is configured with.</summary>
public sealed record TestApiKey(string Name, string Key, IReadOnlyList<string> Scopes, double RequestsPerSecond = 1000, int Burst = 1000);

/// <summary>
/// The real gateway as a process, its YARP destinations pointed by service-discovery
/// configuration at real inference and registry processes, with the given API keys, queueing
/// asynchronous predictions on the infrastructure's broker, and Prometheus metrics on a separate
/// management port, as the AppHost runs it.
/// </summary>
public sealed class GatewayServer : ServiceProcess
{
    private GatewayServer(int httpPort, int managementPort, IReadOnlyDictionary<string, string?> settings)
        : base("GatewayServicePath", httpPort, FreeTcpPort.Next(), WithManagement(managementPort, settings))
    {
        ManagementAddress = new Uri($"http://127.0.0.1:{managementPort.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>The management port (Prometheus scrapes), which the AppHost does not expose.</summary>
    public Uri ManagementAddress { get; }

    public static Task<GatewayServer> StartReadyAsync(
        ServiceInfrastructure infrastructure, IReadOnlyList<ServiceProcess> inference, ServiceProcess registry, IReadOnlyList<TestApiKey> keys,
        IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["ConnectionStrings__kafka"] = infrastructure.Kafka.BootstrapServers };
        for (var i = 0; i < inference.Count; i++)
        {
            settings[$"services__inference__http__{i}"] = inference[i].HttpAddress.ToString();
            settings[$"services__inference__grpc__{i}"] = inference[i].GrpcAddress.ToString();
        }

        settings["services__registry__http__0"] = registry.HttpAddress.ToString();
        settings["services__registry__grpc__0"] = registry.GrpcAddress.ToString();
        // Nothing listens here: training routes answer 502/503, which tests of auth do not reach.
        settings["services__training__http__0"] = "http://127.0.0.1:9";
        settings["services__training__grpc__0"] = "http://127.0.0.1:9";
        settings["services__data__http__0"] = "http://127.0.0.1:9";
        settings["Gateway__CanaryRefreshSeconds"] = "0.5";
        for (var i = 0; i < keys.Count; i++)
        {
            var prefix = $"Gateway__ApiKeys__{i}__";
            settings[prefix + "Name"] = keys[i].Name;
            settings[prefix + "Key"] = keys[i].Key;
            settings[prefix + "RequestsPerSecond"] = keys[i].RequestsPerSecond.ToString(CultureInfo.InvariantCulture);
            settings[prefix + "Burst"] = keys[i].Burst.ToString(CultureInfo.InvariantCulture);
            for (var j = 0; j < keys[i].Scopes.Count; j++)
            {
                settings[$"{prefix}Scopes__{j}"] = keys[i].Scopes[j];
            }
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return WithFreshPortsOnClashAsync(() => ReadyAsync(new GatewayServer(FreeTcpPort.Next(), FreeTcpPort.Next(), settings), TimeSpan.FromSeconds(60)));
    }

    private static Dictionary<string, string?> WithManagement(int managementPort, IReadOnlyDictionary<string, string?> settings) =>
        new(settings) { ["Kestrel__Endpoints__Management__Url"] = $"http://127.0.0.1:{managementPort.ToString(CultureInfo.InvariantCulture)}" };
}
