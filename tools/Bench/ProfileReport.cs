using System.Globalization;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;

namespace MsSwift.Bench;

/// <summary>
/// Where a proxy's time and allocations go, from a dotnet-trace recording (<see cref="ProcessProfile"/>).
/// Each CPU sample of a running thread (threads parked in a wait are left out) and each allocation
/// tick is given to the part of the stack nearest its leaf that belongs to a known component
/// (telemetry, authentication, rate limiting, YARP, Kestrel, HttpClient ...), so the shares add up
/// to 100 % and a cost lands where it is paid: an <c>Activity</c> started by YARP counts as telemetry.
/// </summary>
internal static class ProfileReport
{
    private const string Other = "other (runtime, thread pool, collections)";

    // Order matters only within one frame: the first prefix that matches names its component.
    // (YARP's ActivityCancellationTokenSource is its idle timeout, not telemetry: it counts as YARP.)
    private static readonly (string Component, string[] Prefixes)[] Components =
    [
        ("telemetry (activities, metrics, logging, event sources)",
        [
            "OpenTelemetry.", "System.Diagnostics.Activity", "System.Diagnostics.DiagnosticListener", "System.Diagnostics.DiagnosticSource",
            "System.Diagnostics.Metrics.", "System.Diagnostics.Tracing.", "System.Diagnostics.DistributedContextPropagator", "System.Diagnostics.W3C",
            "System.Diagnostics.LegacyPropagator", "System.Net.Http.DiagnosticsHandler", "System.Net.Http.Metrics", "System.Net.Http.HttpTelemetry",
            "Microsoft.AspNetCore.Hosting.HostingApplicationDiagnostics", "Microsoft.AspNetCore.Hosting.HostingMetrics", "Microsoft.AspNetCore.Hosting.HostingEventSource",
            "Microsoft.Extensions.Logging.", "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Infrastructure.KestrelEventSource",
            "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Infrastructure.KestrelMetrics", "Yarp.ReverseProxy.Forwarder.ForwarderTelemetry",
            "Yarp.ReverseProxy.Telemetry", "MsSwift.Gateway.Telemetry.GatewayMetrics",
        ]),
        ("authentication and authorization", ["Microsoft.AspNetCore.Authentication.", "Microsoft.AspNetCore.Authorization.", "MsSwift.Gateway.Auth.", "System.Security.Claims.", "System.Security.Cryptography."]),
        ("rate limiting", ["System.Threading.RateLimiting.", "Microsoft.AspNetCore.RateLimiting.", "MsSwift.Gateway.RateLimiting."]),
        ("gateway middleware (request id, size limit, transforms, canary)", ["MsSwift.Gateway.", "MsSwift.ServiceDefaults.", "Microsoft.Extensions.Hosting.", "Yarp.ReverseProxy.Transforms."]),
        ("routing", ["Microsoft.AspNetCore.Routing."]),
        ("YARP forwarder", ["Yarp."]),
        ("Kestrel HTTP/2 server", ["Microsoft.AspNetCore.Server.Kestrel.", "Microsoft.AspNetCore.Http.", "Microsoft.AspNetCore.Hosting.", "Microsoft.AspNetCore.Builder.", "System.IO.Pipelines."]),
        ("HttpClient HTTP/2 to the backend", ["System.Net.Http."]),
        ("sockets", ["System.Net.Sockets.", "Interop+Sys.Send", "Interop+Sys.Receive", "Interop+Sys.Read", "Interop+Sys.Write"]),
    ];

    // A thread whose stack holds one of these is parked, not using the CPU.
    private static readonly string[] Waits =
    [
        "System.Threading.LowLevelLifoSemaphore", "System.Threading.WaitHandle.Wait", "System.Threading.Monitor.Wait", "System.Threading.Thread.Sleep",
        "Interop+Sys.WaitForSocketEvents", "System.Threading.LowLevelMonitor.Wait", "System.Threading.ManualResetEventSlim.Wait", "System.Threading.SemaphoreSlim.Wait",
        "System.Threading.Tasks.Task.SpinThenBlockingWait", "System.Threading.Tasks.Task.InternalWait", "System.Threading.PortableThreadPool+GateThread",
        "System.Threading.TimerQueue.TimerThread", "System.Threading.WaitSubsystem", "System.Console", "System.IO.StreamReader.ReadLine", "System.Threading.LowLevelLock.Wait",
    ];

    // Thread samples do not say whether a thread was on the CPU: these leaf frames are loops parked
    // in native waits (epoll, a pipe read, librdkafka's poll, the console logger's queue, an idle worker).
    private static readonly string[] IdleLeaves =
    [
        "System.Net.Sockets.SocketAsyncEngine.EventLoop", "Interop+Sys.Read", "Confluent.Kafka.Impl.Librdkafka.poll", "Confluent.Kafka.Impl.Librdkafka.queue_poll",
        "Confluent.Kafka.Impl.SafeKafkaHandle.Poll",
        "Microsoft.Extensions.Logging.Console.ConsoleLoggerProcessor.TryDequeue", "System.Threading.PortableThreadPool+WorkerThread.WorkerThreadStart",
        "System.Threading.Thread.StartCallback", "System.Threading.Tasks.Task.Wait",
    ];

    public static string Summarize(string tracePath, int top = 12)
    {
        var etlx = TraceLog.CreateFromEventPipeDataFile(tracePath, Path.ChangeExtension(tracePath, ".etlx"));
        using var log = new TraceLog(etlx);
        var cpu = new Tally();
        var allocations = new Tally();
        var types = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var data in log.Events)
        {
            if (data.ProviderName == "Microsoft-DotNETCore-SampleProfiler")
            {
                if (Frames(data) is { Count: > 0 } frames && !IsIdle(frames))
                {
                    cpu.Add(frames, 1);
                }
            }
            else if (data.EventName?.StartsWith("GC/AllocationTick", StringComparison.Ordinal) == true)
            {
                var bytes = Convert.ToDouble(data.PayloadByName("AllocationAmount64") ?? data.PayloadByName("AllocationAmount"), CultureInfo.InvariantCulture);
                var type = data.PayloadByName("TypeName") as string ?? "?";
                types[type] = types.GetValueOrDefault(type) + bytes;
                allocations.Add(Frames(data), bytes);
            }
        }

        var report = new System.Text.StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"{Path.GetFileName(tracePath)}: {cpu.Total:F0} CPU samples of running threads, {allocations.Total / 1e6:F0} MB of sampled allocations");
        report.AppendLine("| component | CPU | allocations |").AppendLine("|---|---|---|");
        foreach (var component in Components.Select(entry => entry.Component).Append(Other).OrderByDescending(cpu.ByComponent.GetValueOrDefault))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {component} | {Share(cpu.ByComponent, component, cpu.Total)} | {Share(allocations.ByComponent, component, allocations.Total)} |");
        }

        report.AppendLine().AppendLine("top methods (CPU, the frame nearest the leaf that names a component):");
        foreach (var (method, samples) in cpu.ByMethod.OrderByDescending(entry => entry.Value).Take(top))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  {samples / cpu.Total:P1}  {method}");
        }

        report.AppendLine().AppendLine("top allocating methods:");
        foreach (var (method, bytes) in allocations.ByMethod.OrderByDescending(entry => entry.Value).Take(top))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  {bytes / allocations.Total:P1}  {method}");
        }

        report.AppendLine().AppendLine("top allocated types:");
        foreach (var (type, bytes) in types.OrderByDescending(entry => entry.Value).Take(top))
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  {bytes / allocations.Total:P1}  {type}");
        }

        return report.ToString();
    }

    private static bool IsIdle(List<string> frames) =>
        IdleLeaves.Any(leaf => frames[0].StartsWith(leaf, StringComparison.Ordinal))
        || frames.Any(frame => Waits.Any(wait => frame.StartsWith(wait, StringComparison.Ordinal)));

    private static string Share(Dictionary<string, double> tally, string component, double total) =>
        total == 0 ? "-" : (tally.GetValueOrDefault(component) / total).ToString("P1", CultureInfo.InvariantCulture);

    /// <summary>Method names from the leaf up; unresolved native frames are left out.</summary>
    private static List<string> Frames(TraceEvent data)
    {
        var frames = new List<string>();
        for (var frame = data.CallStack(); frame is not null; frame = frame.Caller)
        {
            var name = frame.CodeAddress.FullMethodName;
            if (!string.IsNullOrEmpty(name))
            {
                var signature = name.IndexOf('(', StringComparison.Ordinal);
                frames.Add(signature > 0 ? name[..signature] : name);
            }
        }

        return frames;
    }

    private sealed class Tally
    {
        public Dictionary<string, double> ByComponent { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, double> ByMethod { get; } = new(StringComparer.Ordinal);

        public double Total { get; private set; }

        public void Add(List<string> frames, double weight)
        {
            Total += weight;
            foreach (var frame in frames)
            {
                foreach (var (component, prefixes) in Components)
                {
                    if (prefixes.Any(prefix => frame.StartsWith(prefix, StringComparison.Ordinal)))
                    {
                        ByComponent[component] = ByComponent.GetValueOrDefault(component) + weight;
                        ByMethod[frame] = ByMethod.GetValueOrDefault(frame) + weight;
                        return;
                    }
                }
            }

            ByComponent[Other] = ByComponent.GetValueOrDefault(Other) + weight;
            ByMethod[frames.Count > 0 ? frames[0] : "?"] = ByMethod.GetValueOrDefault(frames.Count > 0 ? frames[0] : "?") + weight;
        }
    }
}
