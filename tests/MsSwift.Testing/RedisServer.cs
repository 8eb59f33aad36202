using System.Globalization;
using System.Net.Sockets;

namespace MsSwift.Testing;

/// <summary>How <see cref="RedisServer.RestartAsync"/> restarts Redis: what it finds when it comes back.</summary>
public enum RedisRestart
{
    /// <summary>A clean shutdown (the append-only file flushed) and a start on the same data.</summary>
    KeepingItsData,

    /// <summary>A crash that lost what was written after <see cref="RedisServer.MarkSyncedAsync"/>, as <c>appendfsync everysec</c> can lose the last second.</summary>
    LosingTheLastWrites,

    /// <summary>A crash and a start with nothing (no persistence, or a lost volume).</summary>
    Empty,
}

/// <summary>
/// A throwaway <c>redis-server</c> on a loopback port: in memory only, or persisted to an
/// append-only file in a data directory as the AppHost runs it (<c>appendfsync everysec</c>).
/// </summary>
public sealed class RedisServer : ChildProcess
{
    private bool _ownsDataDirectory;
    private string? _synced;

    private RedisServer(int port, string? dataDirectory, bool ownsDataDirectory)
        : base("redis-server", Arguments(port, dataDirectory))
    {
        Port = port;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
    }

    public int Port { get; }

    /// <summary>Where the append-only file lives; null for an in-memory server.</summary>
    public string? DataDirectory { get; }

    /// <summary>StackExchange.Redis connection string.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>An in-memory server on a free port.</summary>
    public static Task<RedisServer> StartAsync() => StartAsync(FreeTcpPort.Next(), dataDirectory: null, ownsDataDirectory: false);

    /// <summary>A server on a free port persisting to a fresh temporary directory, deleted when the server (or its restarted successor) is disposed.</summary>
    public static Task<RedisServer> StartPersistentAsync() =>
        StartAsync(FreeTcpPort.Next(), Directory.CreateTempSubdirectory("msswift-redis-").FullName, ownsDataDirectory: true);

    /// <summary>Remembers the data as it is now: what <see cref="RedisRestart.LosingTheLastWrites"/> comes back to.</summary>
    public async Task MarkSyncedAsync()
    {
        var directory = DataDirectory ?? throw new InvalidOperationException("an in-memory server persists nothing");
        // With everysec Redis may postpone writing the file; under "always" it writes (and syncs)
        // every acknowledged command before it answers this one.
        await CommandAsync("CONFIG", "SET", "appendfsync", "always");
        DeleteSynced();
        _synced = Directory.CreateTempSubdirectory("msswift-redis-synced-").FullName;
        CopyDirectory(directory, _synced);
        await CommandAsync("CONFIG", "SET", "appendfsync", "everysec");
    }

    /// <summary>
    /// Stops this server as <paramref name="restart"/> says and starts a new one on the same port
    /// and data directory (clients reconnect by themselves); this instance is disposed.
    /// </summary>
    public async Task<RedisServer> RestartAsync(RedisRestart restart)
    {
        var directory = DataDirectory;
        if (directory is null && restart != RedisRestart.Empty)
        {
            throw new InvalidOperationException("an in-memory server can only come back empty");
        }

        var synced = _synced;
        if (restart == RedisRestart.LosingTheLastWrites && synced is null)
        {
            throw new InvalidOperationException($"call {nameof(MarkSyncedAsync)} first: it marks what survives");
        }

        // The directory passes to the successor.
        var owns = _ownsDataDirectory;
        _ownsDataDirectory = false;
        _synced = null;
        if (restart == RedisRestart.KeepingItsData)
        {
            await ShutdownAsync();
        }
        else
        {
            Kill();
            await DisposeAsync();
            if (directory is not null)
            {
                Directory.Delete(directory, recursive: true);
                Directory.CreateDirectory(directory);
            }

            if (restart == RedisRestart.LosingTheLastWrites)
            {
                CopyDirectory(synced!, directory!);
            }
        }

        if (synced is not null)
        {
            Directory.Delete(synced, recursive: true);
        }

        return await StartAsync(Port, directory, owns);
    }

    /// <summary>Sends <c>SHUTDOWN</c> (Redis flushes its append-only file) and waits for the process to exit.</summary>
    public async Task ShutdownAsync()
    {
        // Redis closes the connection as it exits, without an answer.
        await CommandAsync("SHUTDOWN");
        await WaitForExitAsync(TimeSpan.FromSeconds(20));
        await DisposeAsync();
    }

    /// <summary>SIGKILL, as when the machine dies.</summary>
    public void Kill() => KillNow();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        DeleteSynced();
        if (_ownsDataDirectory && DataDirectory is not null && Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    private static Task<RedisServer> StartAsync(int port, string? dataDirectory, bool ownsDataDirectory) =>
        ListeningAsync(new RedisServer(port, dataDirectory, ownsDataDirectory), port, TimeSpan.FromSeconds(20));

    /// <summary>Sends one command and returns the first line of the answer (empty when the server closed the connection).</summary>
    private async Task<string> CommandAsync(params string[] command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port);
        var stream = client.GetStream();
        var request = new System.Text.StringBuilder($"*{command.Length}\r\n");
        foreach (var part in command)
        {
            request.Append(CultureInfo.InvariantCulture, $"${System.Text.Encoding.UTF8.GetByteCount(part)}\r\n{part}\r\n");
        }

        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream);
        var answer = await reader.ReadLineAsync() ?? "";
        return answer.StartsWith('-') ? throw new InvalidOperationException($"redis refused {command[0]}: {answer}") : answer;
    }

    private void DeleteSynced()
    {
        if (_synced is not null && Directory.Exists(_synced))
        {
            Directory.Delete(_synced, recursive: true);
        }

        _synced = null;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static List<string> Arguments(int port, string? dataDirectory)
    {
        List<string> arguments = ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", ""];
        return dataDirectory is null
            ? [.. arguments, "--appendonly", "no"]
            : [.. arguments, "--dir", dataDirectory, "--appendonly", "yes", "--appendfsync", "everysec"];
    }
}
