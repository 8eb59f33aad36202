using System.Reflection;

namespace MsSwift.Testing;

/// <summary>The product's Kafka dev broker (tools/KafkaDevBroker) as a real process on a free port.</summary>
public sealed class KafkaDevBroker : ChildProcess
{
    private static readonly string BrokerPath = typeof(KafkaDevBroker).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(attribute => attribute.Key == "KafkaDevBrokerPath").Value!;

    private KafkaDevBroker(int port)
        : base("dotnet", ["exec", BrokerPath, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
    {
        Port = port;
    }

    public int Port { get; }

    public string BootstrapServers => $"127.0.0.1:{Port}";

    public static Task<KafkaDevBroker> StartAsync()
    {
        var port = FreeTcpPort.Next();
        return ListeningAsync(new KafkaDevBroker(port), port, TimeSpan.FromSeconds(30));
    }
}
