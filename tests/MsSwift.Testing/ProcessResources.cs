using System.Globalization;

namespace MsSwift.Testing;

/// <summary>A process's resident memory and open file descriptors (sockets included), read from /proc.</summary>
public sealed record ProcessResources(long ResidentBytes, int OpenHandles, int Threads)
{
    public static ProcessResources Of(int processId)
    {
        var status = File.ReadAllLines($"/proc/{processId}/status");
        long Field(string name) => long.Parse(
            status.Single(line => line.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return new ProcessResources(Field("VmRSS") * 1024, Directory.GetFileSystemEntries($"/proc/{processId}/fd").Length, (int)Field("Threads"));
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{ResidentBytes / (1024 * 1024)} MiB resident, {OpenHandles} handles, {Threads} threads");
}
