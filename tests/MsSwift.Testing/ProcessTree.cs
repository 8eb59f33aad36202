using System.Globalization;

namespace MsSwift.Testing;

/// <summary>
/// A snapshot of processes (Linux /proc), each identified by pid and start time so that a
/// recycled pid is not mistaken for a survivor.
/// </summary>
public sealed record ProcessTree(IReadOnlyList<ProcessTree.Entry> Processes)
{
    public sealed record Entry(int Pid, int Parent, int Session, long StartTime, string Command);

    /// <summary>
    /// Everything Aspire's orchestrator (DCP) runs for the AppHost in process <paramref name="appHostPid"/>:
    /// DCP detaches from its parent and watches it with <c>--monitor &lt;pid&gt;</c>, and the resources it
    /// starts share its sessions, even once a resource's <c>dotnet run</c> parent has exited.
    /// </summary>
    public static ProcessTree OfAspireOrchestrator(int appHostPid)
    {
        var all = ReadAll();
        var monitorArgument = $"--monitor {appHostPid.ToString(CultureInfo.InvariantCulture)}";
        var roots = all.Where(process => process.Command.Contains("dcp", StringComparison.Ordinal)
            && process.Command.Contains(monitorArgument, StringComparison.Ordinal)).Select(process => process.Pid).ToHashSet();
        var members = new HashSet<int>(roots);
        bool grew;
        do
        {
            var sessions = all.Where(process => members.Contains(process.Pid)).Select(process => process.Session).ToHashSet();
            var before = members.Count;
            members.UnionWith(all.Where(process => members.Contains(process.Parent) || sessions.Contains(process.Session)).Select(process => process.Pid));
            grew = members.Count > before;
        }
        while (grew);

        return new ProcessTree(all.Where(process => members.Contains(process.Pid)).ToList());
    }

    /// <summary>The processes of this snapshot that still run (same pid, same start time).</summary>
    public IReadOnlyList<string> StillRunning() =>
        Processes
            .Where(process => TryRead(process.Pid) is { } now && now.StartTime == process.StartTime)
            .Select(process => $"{process.Pid} {process.Command}")
            .ToList();

    private static List<Entry> ReadAll() =>
        Directory.EnumerateDirectories("/proc")
            .Select(directory => int.TryParse(Path.GetFileName(directory), out var pid) ? TryRead(pid) : null)
            .OfType<Entry>()
            .ToList();

    // /proc/<pid>/stat: "pid (comm) state ppid pgrp session ... starttime" (22nd field); comm may contain spaces.
    private static Entry? TryRead(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[0] == "Z")
            {
                return null; // exited, waiting to be reaped
            }

            var command = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
            return new Entry(
                pid,
                int.Parse(fields[1], CultureInfo.InvariantCulture),
                int.Parse(fields[3], CultureInfo.InvariantCulture),
                long.Parse(fields[19], CultureInfo.InvariantCulture),
                command);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
