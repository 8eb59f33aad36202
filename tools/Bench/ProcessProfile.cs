using System.Diagnostics;
using System.Globalization;

namespace MsSwift.Bench;

/// <summary>
/// Records one process while a load runs against it: dotnet-trace (CPU samples, and the runtime's
/// allocation ticks with their stacks) and dotnet-counters (System.Runtime, as CSV), plus the
/// process's own CPU time from /proc, so CPU and allocation can be put per request. The tools are
/// .NET global tools installed by eng/profile-gateway.sh; they must be on PATH.
/// </summary>
internal static partial class ProcessProfile
{
    // Thread samples (the profile), plus the runtime's keywords for method names, stacks and GC at the
    // verbose level, which adds GC/AllocationTick (an allocation sample about every 100 KB).
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime:0x14C14FCCBD:5";
    private static readonly TimeSpan Attach = TimeSpan.FromSeconds(2);
    private static readonly long ClockTicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>CPU time the process used while the load ran, per request, and the recording's files.</summary>
    public sealed record Recording(string Name, double CpuMillisecondsPerRequest, double AllocatedBytesPerRequest, double RequestsPerSecond, string TracePath, string CountersPath,
        IReadOnlyList<(string Threads, double CpuMillisecondsPerRequest)> ThreadCpu);

    /// <param name="name">File name stem under <paramref name="directory"/>.</param>
    /// <param name="processId">The process to record.</param>
    /// <param name="seconds">How long <paramref name="load"/> runs; the recording starts before it and ends after it.</param>
    /// <param name="load">Runs the load; returns the number of requests it completed.</param>
    /// <param name="directory">Where the .nettrace and .csv go.</param>
    public static async Task<Recording> RecordAsync(string name, int processId, int seconds, Func<Task<long>> load, string directory)
    {
        Directory.CreateDirectory(directory);
        var trace = Path.Combine(directory, name + ".nettrace");
        var counters = Path.Combine(directory, name + ".counters.csv");
        File.Delete(trace);
        File.Delete(counters);
        var duration = TimeSpan.FromSeconds(seconds) + Attach + Attach;
        var pid = processId.ToString(CultureInfo.InvariantCulture);
        var span = duration.ToString(@"dd\:hh\:mm\:ss", CultureInfo.InvariantCulture);
        using var tracer = Start("dotnet-trace", ["collect", "-p", pid, "--profile", "dotnet-sampled-thread-time", "--providers", RuntimeProvider, "--duration", span, "-o", trace]);
        using var counter = Start("dotnet-counters", ["collect", "-p", pid, "--counters", "System.Runtime", "--refresh-interval", "1", "--format", "csv", "--duration", span, "-o", counters]);
        await Task.Delay(Attach);

        var cpuBefore = CpuTicks(processId);
        var threadsBefore = ThreadTicks(processId);
        var started = Stopwatch.GetTimestamp();
        var requests = await load();
        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = TimeSpan.FromSeconds((CpuTicks(processId) - cpuBefore) / (double)ClockTicksPerSecond);
        var threadCpu = ThreadTicks(processId)
            .Select(pair => (Threads: pair.Key, Ms: (pair.Value - threadsBefore.GetValueOrDefault(pair.Key)) * 1000.0 / ClockTicksPerSecond / requests))
            .Where(entry => entry.Ms > 0)
            .OrderByDescending(entry => entry.Ms)
            .ToList();

        await WaitAsync(tracer);
        await WaitAsync(counter);
        var allocated = AllocatedBytes(counters);
        return new Recording(name, cpu.TotalMilliseconds / requests, allocated / requests, requests / elapsed.TotalSeconds, trace, counters, threadCpu);
    }

    private static Process Start(string tool, IEnumerable<string> arguments)
    {
        var startInfo = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        try
        {
            var process = Process.Start(startInfo)!;
            // Read both streams so a chatty tool never blocks on a full pipe.
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return process;
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            throw new InvalidOperationException($"{tool} is not on PATH; run eng/profile-gateway.sh, which installs it", error);
        }
    }

    private static async Task WaitAsync(Process tool)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await tool.WaitForExitAsync(timeout.Token);
        if (tool.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool.StartInfo.FileName} exited with {tool.ExitCode}");
        }
    }

    /// <summary>CPU time (user and system) the process has used so far.</summary>
    public static TimeSpan CpuTime(int processId) => TimeSpan.FromSeconds(CpuTicks(processId) / (double)ClockTicksPerSecond);

    private static long CpuTicks(int processId) => UserAndSystemTicks(File.ReadAllText($"/proc/{processId}/stat"));

    /// <summary>utime + stime, in clock ticks, from a process's or thread's stat line (fields 14 and 15, after the name in parentheses).</summary>
    private static long UserAndSystemTicks(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    /// <summary>CPU time (user and system) the process's threads named <paramref name="threads"/> (digits as '#') have used so far.</summary>
    public static TimeSpan ThreadCpuTime(int processId, string threads) =>
        TimeSpan.FromSeconds(ThreadTicks(processId).GetValueOrDefault(threads) / (double)ClockTicksPerSecond);

    /// <summary>The machine's busy and total CPU time so far (/proc/stat's first line, clock ticks): busy / total over a window is its utilization.</summary>
    public static (long Busy, long Total) MachineCpuTicks()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4]; // idle, iowait
        var total = fields.Take(8).Sum(); // user nice system idle iowait irq softirq steal
        return (total - idle, total);
    }

    /// <summary>The runtime's tiered-compilation worker, as /proc names it (15 characters).</summary>
    public const string TieredCompilationThreads = ".NET Tiered Com";

    /// <summary>
    /// utime + stime of every thread, summed by thread name with its digits dropped (".NET TP Worker",
    /// "rdk:broker#"): native threads, such as librdkafka's, that a managed profiler never samples.
    /// A thread that ends during the load takes its time with it (the thread pool retires idle
    /// workers), so the sums can fall short of the process's own total: they say which threads, not how much in all.
    /// </summary>
    private static Dictionary<string, long> ThreadTicks(int processId)
    {
        var ticks = new Dictionary<string, long>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended between listing and reading
            }

            var name = Digits().Replace(stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..stat.LastIndexOf(')')], "#");
            ticks[name] = ticks.GetValueOrDefault(name) + UserAndSystemTicks(stat);
        }

        return ticks;
    }

    /// <summary>The sum of the per-interval increments of the runtime's allocated-bytes counter over the recording.</summary>
    private static double AllocatedBytes(string csv) => File.ReadLines(csv)
        .Select(line => line.Split(','))
        .Where(fields => fields.Length >= 5 && fields[2].StartsWith("dotnet.gc.heap.total_allocated", StringComparison.Ordinal))
        .Sum(fields => double.Parse(fields[^1], CultureInfo.InvariantCulture));

    [System.Text.RegularExpressions.GeneratedRegex(@"\d+")]
    private static partial System.Text.RegularExpressions.Regex Digits();
}
