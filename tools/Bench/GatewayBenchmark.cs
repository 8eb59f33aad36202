using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.V1;
using MsSwift.Testing.Services;

namespace MsSwift.Bench;

/// <summary>
/// Gateway overhead: the same gRPC Predict load with h2load (nghttp2-client), direct to an
/// inference process, through the gateway process (API key, rate limiter, canary draw, YARP),
/// and through a bare YARP proxy (tools/BareProxy: the floor for any YARP-based gateway here),
/// alternated in one run: throughput at saturation (best of several rounds, and the median of the
/// rounds' gateway / bare YARP ratios), then p50/p99 at a fixed moderate rate with evenly spaced
/// arrivals, over several rounds: the added latency is the median of the rounds' differences, each
/// measured seconds apart from its direct run; then the mean latency one request at a time.
/// The closing "target" lines hold the gateway to bare YARP (issue 16): at least 0.9 of its throughput
/// and at most 0.2 ms over its p50. With <c>--profile DIR</c>, a further 1-token saturation run per
/// proxy is recorded (<see cref="ProcessProfile"/>) and summarized (<see cref="ProfileReport"/>),
/// after the measurements, so the profiler never slows a measured run.
/// </summary>
internal static partial class GatewayBenchmark
{
    private const string Path = "/msswift.v1.ModelService/Predict";
    private const int SaturationRounds = 8;
    private const int LatencyRounds = 15;
    private const int LatencySeconds = 2;
    private const int SerialRounds = 7;
    private const int SerialSeconds = 2;
    private const int ProfileSeconds = 8;
    private const double ThroughputTarget = 0.9;
    private const double AddedP50TargetMs = 0.2;
    private static readonly string[] Paths = ["direct", "gateway", "bare YARP"];
    internal static readonly TestApiKey Key = new("bench", "bench-key-0123456789abcdef", ["inference"], RequestsPerSecond: 1_000_000, Burst: 1_000_000);

    public static async Task<int> RunAsync(int saturationSeconds, int rate, string? profile, bool profileOnly = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(saturationSeconds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rate, 4); // 4 clients at rate / 4 each
        await using var infrastructure = await ServiceInfrastructure.StartAsync();
        await using var inference = await InferenceServer.StartAsync(infrastructure, new Dictionary<string, string> { ["Inference__MaxBatchSize"] = "16", ["Inference__MaxQueueSize"] = "1024" });
        await inference.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        await using var registry = await RegistryServer.StartReadyAsync(infrastructure);
        // BENCH_GATEWAY_ENV="K=V;K=V": extra environment for the gateway process (e.g. OTEL_SDK_DISABLED=true).
        var experiment = ExperimentEnvironment.From("BENCH_GATEWAY_ENV");
        await using var gateway = await GatewayServer.StartReadyAsync(infrastructure, [inference], registry, [Key], experiment);

        await using var bare = await BareProxy.StartAsync(inference.GrpcAddress);
        await CheckAnswersAsync(inference, gateway, bare.Address);
        if (profileOnly && !string.IsNullOrEmpty(profile))
        {
            await ProfileAsync(profile, [("gateway", gateway.ProcessId, gateway.GrpcAddress), ("bare-yarp", bare.ProcessId, bare.Address)]);
            return 0;
        }

        Console.WriteLine($"Predict over h2c; saturation {saturationSeconds} s per path (16 streams), the paths alternated (serpentine order), best of {SaturationRounds} and median of the rounds' ratios; latency at a steady {rate} req/s (4 clients, arrivals evenly spaced, {LatencySeconds} s per path), the paths alternated the same way, median of {LatencyRounds} rounds; one request at a time (1 client, {SerialSeconds} s per path), median of {SerialRounds} rounds.");
        Console.WriteLine();
        Console.WriteLine($"| new tokens | path | throughput at saturation | p50 at {rate} req/s | p99 at {rate} req/s | one at a time, mean |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var summary = new List<string>();
        var targets = new List<string>();
        foreach (var tokens in new[] { 1, 16 })
        {
            var body = System.IO.Path.GetTempFileName();
            await File.WriteAllBytesAsync(body, GrpcFrame(Request(tokens)));
            var (saturationRounds, rounds, serial) = await MeasureAsync(
                [("direct", inference.GrpcAddress, inference.ProcessId), ("gateway", gateway.GrpcAddress, gateway.ProcessId), ("bare YARP", bare.Address, bare.ProcessId)], body, saturationSeconds, rate);
            File.Delete(body);
            var saturation = Paths.ToDictionary(name => name, name => saturationRounds.Max(round => round[name]));
            foreach (var name in Paths)
            {
                Console.WriteLine($"| {tokens} | {name} | {saturation[name]:F0} req/s | {Median(rounds.Select(round => round[name].P50)):F2} ms | {Median(rounds.Select(round => round[name].P99)):F2} ms | {Median(serial.Select(round => round[name])):F3} ms |");
            }

            foreach (var proxy in Paths[1..])
            {
                var addedP50 = rounds.Select(round => round[proxy].P50 - round["direct"].P50).Order().ToList();
                var addedP99 = Median(rounds.Select(round => round[proxy].P99 - round["direct"].P99));
                var addedSerial = Median(serial.Select(round => round[proxy] - round["direct"]));
                summary.Add(FormattableString.Invariant(
                    $"{tokens} new token(s), {proxy}: throughput ratio {proxy} / direct {saturation[proxy] / saturation["direct"]:F2}; added at {rate} req/s: p50 {Median(addedP50):F2} ms (rounds {Joined(addedP50)}), p99 {addedP99:F2} ms; added one at a time {addedSerial:F3} ms"));
            }

            // Against bare YARP of the same round, which ran seconds apart on the same machine: the
            // median of the rounds' ratios, which a slow second for one path in one round cannot move.
            var ratios = saturationRounds.Select(round => round["gateway"] / round["bare YARP"]).Order().ToList();
            var ratio = Median(ratios);
            var overBareRounds = rounds.Select(round => round["gateway"].P50 - round["bare YARP"].P50).Order().ToList();
            var overBare = Median(overBareRounds);
            var serialOverBare = Median(serial.Select(round => round["gateway"] - round["bare YARP"]));
            targets.Add(FormattableString.Invariant(
                $"target, {tokens} new token(s): gateway / bare YARP throughput {ratio:F2}, median of the rounds ({Joined(ratios)}; best of each {saturation["gateway"] / saturation["bare YARP"]:F2}) (>= {ThroughputTarget}: {Verdict(ratio >= ThroughputTarget)}); gateway p50 - bare YARP p50 {overBare:F2} ms, median of the rounds ({Joined(overBareRounds)}) (<= {AddedP50TargetMs} ms: {Verdict(overBare <= AddedP50TargetMs)}); one at a time, gateway - bare YARP {serialOverBare:F3} ms"));
        }

        Console.WriteLine();
        summary.ForEach(Console.WriteLine);
        targets.ForEach(Console.WriteLine);
        if (!string.IsNullOrEmpty(profile))
        {
            await ProfileAsync(profile, [("gateway", gateway.ProcessId, gateway.GrpcAddress), ("bare-yarp", bare.ProcessId, bare.Address)]);
        }

        return 0;
    }

    private static string Verdict(bool met) => met ? "met" : "NOT met";

    private static string Joined(IEnumerable<double> values) => string.Join(", ", values.Select(value => value.ToString("F2", CultureInfo.InvariantCulture)));

    /// <summary>One recorded 1-token saturation run per proxy (after a warm-up), then CPU and allocations per request and where they go.</summary>
    private static async Task ProfileAsync(string directory, (string Name, int ProcessId, Uri Address)[] proxies)
    {
        var body = System.IO.Path.GetTempFileName();
        await File.WriteAllBytesAsync(body, GrpcFrame(Request(1)));
        foreach (var (name, processId, address) in proxies)
        {
            await WarmUpAsync(name, address, processId, body);
        }

        var recordings = new List<ProcessProfile.Recording>();
        foreach (var (name, processId, address) in proxies)
        {
            recordings.Add(await ProcessProfile.RecordAsync(name, processId, ProfileSeconds, async () =>
                RequestsDone(await H2LoadAsync(address, body, ["-D", ProfileSeconds.ToString(CultureInfo.InvariantCulture), "-c", "16"])), directory));
        }

        File.Delete(body);
        Console.WriteLine();
        Console.WriteLine($"Profiled (1 new token, 16 streams, {ProfileSeconds} s, recorded by dotnet-trace and dotnet-counters; files in {directory}):");
        foreach (var recording in recordings)
        {
            Console.WriteLine(FormattableString.Invariant(
                $"  {recording.Name}: {recording.RequestsPerSecond:F0} req/s while recorded, CPU {recording.CpuMillisecondsPerRequest:F3} ms per request, allocated {recording.AllocatedBytesPerRequest / 1024:F1} KB per request"));
            Console.WriteLine("    CPU per request by thread: " + string.Join(", ", recording.ThreadCpu.Take(8).Select(entry =>
                FormattableString.Invariant($"{entry.Threads} {entry.CpuMillisecondsPerRequest:F3} ms"))));
        }

        foreach (var recording in recordings)
        {
            Console.WriteLine();
            Console.WriteLine(ProfileReport.Summarize(recording.TracePath));
        }
    }

    /// <summary>
    /// Throughput at saturation per round and path, then p50/p99 at the steady rate per round and
    /// path, then the mean latency (ms) of requests sent one at a time; each round runs the paths in
    /// the reverse order of the one before, so a drift of the machine's speed over a round favours no path.
    /// </summary>
    private static async Task<(List<Dictionary<string, double>> Saturation, List<Dictionary<string, (double P50, double P99)>> LatencyRounds, List<Dictionary<string, double>> Serial)> MeasureAsync(
        (string Name, Uri Address, int ProcessId)[] targets, string body, int saturationSeconds, int rate)
    {
        foreach (var (name, address, processId) in targets)
        {
            await WarmUpAsync(name, address, processId, body);
        }

        IEnumerable<(string Name, Uri Address)> InOrder(int round) =>
            (round % 2 == 0 ? targets : targets.Reverse()).Select(target => (target.Name, target.Address));
        // CPU per request of every process at saturation, by path: what a path costs the backend as well as the proxy.
        var processes = targets.Select(target => target.ProcessId).ToArray();
        var cpu = targets.SelectMany(target => processes.Select((_, process) => (target.Name, process))).ToDictionary(key => key, _ => new List<double>());
        var utilization = targets.ToDictionary(target => target.Name, _ => new List<double>());
        var saturation = new List<Dictionary<string, double>>();
        for (var round = 0; round < SaturationRounds; round++)
        {
            var throughput = new Dictionary<string, double>();
            foreach (var (name, address) in InOrder(round))
            {
                var cpuBefore = processes.Select(ProcessProfile.CpuTime).ToArray();
                var machineBefore = ProcessProfile.MachineCpuTicks();
                // A fixed time, not a fixed count: 5000 requests lasted 0.6 s, and one slow tenth of a second moved a round's ratio by 0.1.
                var output = await H2LoadAsync(address, body, ["-D", saturationSeconds.ToString(CultureInfo.InvariantCulture), "-c", "16"]);
                throughput[name] = RequestsPerSecond(output);
                var done = RequestsDone(output);
                var machineAfter = ProcessProfile.MachineCpuTicks();
                utilization[name].Add((machineAfter.Busy - machineBefore.Busy) / (double)(machineAfter.Total - machineBefore.Total));
                for (var process = 0; process < processes.Length; process++)
                {
                    cpu[(name, process)].Add((ProcessProfile.CpuTime(processes[process]) - cpuBefore[process]).TotalMilliseconds / done);
                }
            }

            saturation.Add(throughput);
        }

        foreach (var (name, _, _) in targets)
        {
            Console.Error.WriteLine(FormattableString.Invariant(
                $"CPU per request at saturation, {name}: {string.Join(", ", targets.Select((target, process) => $"{target.Name} process {Median(cpu[(name, process)]):F3} ms"))}; the machine's CPU {Median(utilization[name]):P0} busy"));
        }

        var rounds = new List<Dictionary<string, (double P50, double P99)>>();
        for (var round = 0; round < LatencyRounds; round++)
        {
            var latency = new Dictionary<string, (double P50, double P99)>();
            foreach (var (name, address) in InOrder(round))
            {
                var log = System.IO.Path.GetTempFileName();
                await H2LoadAsync(address, body, ["-n", (rate * LatencySeconds).ToString(CultureInfo.InvariantCulture), .. SteadyRate(rate), $"--log-file={log}"]);
                latency[name] = Percentiles(await File.ReadAllLinesAsync(log));
                File.Delete(log);
            }

            rounds.Add(latency);
        }

        // The critical path alone: one client, each request sent when the last is answered, so no
        // request waits behind another anywhere and the mean is 1 / throughput.
        var serial = new List<Dictionary<string, double>>();
        for (var round = 0; round < SerialRounds; round++)
        {
            var mean = new Dictionary<string, double>();
            foreach (var (name, address) in InOrder(round))
            {
                mean[name] = 1000 / RequestsPerSecond(await H2LoadAsync(address, body, ["-D", SerialSeconds.ToString(CultureInfo.InvariantCulture), "-c", "1"]));
            }

            serial.Add(mean);
        }

        return (saturation, rounds, serial);
    }

    /// <summary>
    /// Loads a path until its process's JIT has settled: tiered compilation recompiles hot methods
    /// in the background for many seconds of load, and while it does, its thread took a quarter of
    /// the gateway's CPU per request (0.031 of 0.122 ms after 3000 requests; 0.003 after 30 s). The
    /// gateway has more code to recompile than bare YARP, so a short warm-up measured the JIT, not
    /// the gateway. Stops once a slice of load costs the JIT under 2 % of it, or after a minute.
    /// </summary>
    private static async Task WarmUpAsync(string name, Uri address, int processId, string body)
    {
        const int SliceSeconds = 2;
        var quiet = TimeSpan.FromSeconds(SliceSeconds * 0.02);
        var started = Stopwatch.GetTimestamp();
        TimeSpan jit;
        do
        {
            var before = ProcessProfile.ThreadCpuTime(processId, ProcessProfile.TieredCompilationThreads);
            await H2LoadAsync(address, body, ["-D", SliceSeconds.ToString(CultureInfo.InvariantCulture), "-c", "16"]);
            jit = ProcessProfile.ThreadCpuTime(processId, ProcessProfile.TieredCompilationThreads) - before;
        }
        while (jit > quiet && Stopwatch.GetElapsedTime(started) < TimeSpan.FromMinutes(1));

        Console.Error.WriteLine(FormattableString.Invariant(
            $"warm-up, {name}: {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s of load, the JIT's CPU in the last {SliceSeconds} s {jit.TotalMilliseconds:F0} ms"));
    }

    /// <summary>
    /// h2load options for <paramref name="rate"/> requests a second from 4 clients, evenly spaced.
    /// Each client sends on its own timer from when it connects; connected together, the 4 send
    /// together, and every request then queues behind up to 3 others in each process it crosses
    /// (2026-12-04: p50 direct 1.9 ms in bursts of 4, 0.5 ms spaced out). Connecting one client
    /// per 1/rate staggers their timers by that much.
    /// </summary>
    private static string[] SteadyRate(int rate) =>
        ["-c", "4", $"--rps={rate / 4}", "-r", "1", $"--rate-period={Math.Max(1, 1000 / rate)}ms"];

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static PredictRequest Request(int tokens) => new()
    {
        InputData = ByteString.CopyFromUtf8("benchmark"),
        Parameters = new GenerationParameters { MaxNewTokens = tokens },
    };

    /// <summary>Both paths must answer the benchmark's request successfully (h2load does not read gRPC trailers).</summary>
    private static async Task CheckAnswersAsync(InferenceServer inference, GatewayServer gateway, Uri bare)
    {
        var request = Request(1);
        await new ModelService.ModelServiceClient(inference.Channel).PredictAsync(request);
        using var bareChannel = Grpc.Net.Client.GrpcChannel.ForAddress(bare);
        await new ModelService.ModelServiceClient(bareChannel).PredictAsync(request);
        await new ModelService.ModelServiceClient(gateway.Channel).PredictAsync(request, new Metadata { { "authorization", $"Bearer {Key.Key}" } });
    }

    internal static async Task<string> H2LoadAsync(Uri address, string body, IEnumerable<string> options)
    {
        var arguments = new List<string>(options)
        {
            "-d", body,
            "-H", "content-type: application/grpc",
            "-H", "te: trailers",
            "-H", $"authorization: Bearer {Key.Key}",
            new Uri(address, Path).ToString(),
        };
        var startInfo = new ProcessStartInfo("h2load", arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("h2load did not start; run eng/setup.sh --bench");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var done = RequestsLine().Match(output);
        if (process.ExitCode != 0 || !done.Success || done.Groups["failed"].Value != "0" || done.Groups["errored"].Value != "0")
        {
            throw new InvalidOperationException($"h2load against {address} failed:{Environment.NewLine}{output}{await process.StandardError.ReadToEndAsync()}");
        }

        return output;
    }

    private static long RequestsDone(string output) => long.Parse(RequestsLine().Match(output).Groups["done"].Value, CultureInfo.InvariantCulture);

    internal static double RequestsPerSecond(string output) =>
        double.Parse(FinishedLine().Match(output).Groups["rps"].Value, CultureInfo.InvariantCulture);

    /// <summary>h2load's log: start time (µs), HTTP status, duration (µs) per request.</summary>
    internal static (double P50, double P99) Percentiles(string[] log)
    {
        var milliseconds = log.Select(line => double.Parse(line.Split('\t')[2], CultureInfo.InvariantCulture) / 1000).Order().ToList();
        double At(double quantile) => milliseconds[Math.Min(milliseconds.Count - 1, (int)Math.Ceiling(quantile * milliseconds.Count) - 1)];
        return (At(0.50), At(0.99));
    }

    /// <summary>One gRPC message on the wire: not compressed, 4-byte big-endian length, the message.</summary>
    internal static byte[] GrpcFrame(IMessage message)
    {
        var payload = message.ToByteArray();
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    [GeneratedRegex(@"finished in [\d.]+\w+, (?<rps>[\d.]+) req/s")]
    private static partial Regex FinishedLine();

    [GeneratedRegex(@"requests: \d+ total, \d+ started, (?<done>\d+) done, \d+ succeeded, (?<failed>\d+) failed, (?<errored>\d+) errored")]
    private static partial Regex RequestsLine();
}
