using Confluent.Kafka;

namespace MsSwift.Testing;

/// <summary>The product's Kafka dev broker (tools/KafkaDevBroker) as a real process on a free port.</summary>
public sealed class KafkaDevBroker : ChildProcess
{
    private static readonly string BrokerPath = BuildMetadata.Get(typeof(KafkaDevBroker).Assembly, "KafkaDevBrokerPath");

    private KafkaDevBroker(int port)
        : base("dotnet", ["exec", BrokerPath, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
    {
        Port = port;
    }

    public int Port { get; }

    public string BootstrapServers => $"127.0.0.1:{Port}";

    /// <summary>
    /// The messages on <paramref name="topic"/> with key <paramref name="key"/>, from the start, in
    /// order, until <paramref name="done"/> says so or <paramref name="timeout"/> passed.
    /// </summary>
    public List<Message<string, byte[]>> ReadMessages(string topic, string key, Func<IReadOnlyList<Message<string, byte[]>>, bool> done, TimeSpan timeout) =>
        ReadMessages(topic, message => message.Key == key, done, timeout);

    /// <summary>The messages on <paramref name="topic"/> that <paramref name="wanted"/> picks, read in one pass from the start.</summary>
    public List<Message<string, byte[]>> ReadMessages(
        string topic, Func<Message<string, byte[]>, bool> wanted, Func<IReadOnlyList<Message<string, byte[]>>, bool> done, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = $"test-reader-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var messages = new List<Message<string, byte[]>>();
        var deadline = DateTime.UtcNow + timeout;
        while (!done(messages) && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } consumed && wanted(consumed.Message))
            {
                messages.Add(consumed.Message);
            }
        }

        consumer.Close();
        return messages;
    }

    /// <param name="port">Where to listen: a free port by default; an earlier broker's port to stand in for it after a restart (it starts empty).</param>
    public static Task<KafkaDevBroker> StartAsync(int? port = null)
    {
        var listen = port ?? FreeTcpPort.Next();
        return ListeningAsync(new KafkaDevBroker(listen), listen, TimeSpan.FromSeconds(30));
    }
}
