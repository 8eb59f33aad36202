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

    public static async Task<KafkaDevBroker> StartAsync()
    {
        var broker = new KafkaDevBroker(FreeTcpPort.Next());
        try
        {
            await broker.WaitForPortAsync(broker.Port, TimeSpan.FromSeconds(30));
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }
}
