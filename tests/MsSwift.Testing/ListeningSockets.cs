using System.Globalization;
using System.Net;

namespace MsSwift.Testing;

/// <summary>The TCP addresses a process listens on (Linux /proc): which interfaces it can be reached on.</summary>
public static class ListeningSockets
{
    private const string ListenState = "0A";

    public static IReadOnlyList<IPEndPoint> Of(int pid)
    {
        var inodes = Directory.EnumerateFileSystemEntries($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target?.StartsWith("socket:[", StringComparison.Ordinal) == true)
            .Select(target => target!["socket:[".Length..^1])
            .ToHashSet(StringComparer.Ordinal);
        string[] tables = ["/proc/net/tcp", "/proc/net/tcp6"];
        return tables.Where(File.Exists)
            .SelectMany(table => File.ReadLines(table).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == ListenState && inodes.Contains(fields[9]))
            .Select(fields => Parse(fields[1]))
            .ToList();
    }

    // "0100007F:1F90" (tcp) or 32 hex digits (tcp6): the address as 32-bit words in host (little-endian) order, then the port.
    private static IPEndPoint Parse(string local)
    {
        var (address, port) = (local[..local.IndexOf(':')], local[(local.IndexOf(':') + 1)..]);
        var bytes = Enumerable.Range(0, address.Length / 8)
            .SelectMany(word => Convert.FromHexString(address.AsSpan(word * 8, 8)).Reverse())
            .ToArray();
        return new IPEndPoint(new IPAddress(bytes), int.Parse(port, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }
}
