namespace MsSwift.Testing;

/// <summary>A throwaway <c>redis-server</c> on a free loopback port, in memory only.</summary>
public sealed class RedisServer : ChildProcess
{
    private RedisServer(int port)
        : base("redis-server", ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    {
        Port = port;
    }

    public int Port { get; }

    /// <summary>StackExchange.Redis connection string.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static Task<RedisServer> StartAsync()
    {
        var port = FreeTcpPort.Next();
        return ListeningAsync(new RedisServer(port), port, TimeSpan.FromSeconds(20));
    }
}
