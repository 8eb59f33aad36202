using System.Globalization;
using MsSwift.Testing.Services;

namespace MsSwift.Bench;

/// <summary>
/// Inference replicas behind the gateway: the same 16-token gRPC Predict load from 64 h2load
/// clients through a gateway in front of one replica and through a gateway in front of two, both
/// gateways and both replicas running throughout (so the only difference is where requests may go),
/// alternated over several rounds: throughput (median of rounds) and p50/p99 of the best round's log.
/// </summary>
internal static class ReplicaBenchmark
{
    private const int Clients = 64;
    private const int Rounds = 4;

    public static async Task<int> RunAsync(int requests, int tokens)
    {
        await using var infrastructure = await ServiceInfrastructure.StartAsync();
        var settings = new Dictionary<string, string> { ["Inference__MaxBatchSize"] = "16", ["Inference__MaxQueueSize"] = "1024" };
        await using var first = await InferenceServer.StartAsync(infrastructure, settings);
        await using var second = await InferenceServer.StartAsync(infrastructure, settings);
        await Task.WhenAll(first.WaitUntilReadyAsync(TimeSpan.FromSeconds(90)), second.WaitUntilReadyAsync(TimeSpan.FromSeconds(90)));
        await using var registry = await RegistryServer.StartReadyAsync(infrastructure);
        await using var one = await GatewayServer.StartReadyAsync(infrastructure, [first], registry, [GatewayBenchmark.Key]);
        await using var two = await GatewayServer.StartReadyAsync(infrastructure, [first, second], registry, [GatewayBenchmark.Key]);
        (string Name, Uri Address)[] targets = [("1 replica", one.GrpcAddress), ("2 replicas", two.GrpcAddress)];

        var body = Path.GetTempFileName();
        await File.WriteAllBytesAsync(body, GatewayBenchmark.GrpcFrame(GatewayBenchmark.Request(tokens)));
        var count = requests.ToString(CultureInfo.InvariantCulture);
        foreach (var (_, address) in targets)
        {
            await GatewayBenchmark.H2LoadAsync(address, body, ["-n", "2000", "-c", Clients.ToString(CultureInfo.InvariantCulture)]);
        }

        var throughput = targets.ToDictionary(target => target.Name, _ => new List<double>());
        var latency = new Dictionary<string, (double P50, double P99)>();
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var (name, address) in targets)
            {
                var log = Path.GetTempFileName();
                var output = await GatewayBenchmark.H2LoadAsync(address, body, ["-n", count, "-c", Clients.ToString(CultureInfo.InvariantCulture), $"--log-file={log}"]);
                var perSecond = GatewayBenchmark.RequestsPerSecond(output);
                if (perSecond >= throughput[name].DefaultIfEmpty(0).Max())
                {
                    latency[name] = GatewayBenchmark.Percentiles(await File.ReadAllLinesAsync(log));
                }

                throughput[name].Add(perSecond);
                File.Delete(log);
            }
        }

        File.Delete(body);
        Console.WriteLine($"Predict ({tokens} new tokens) over h2c through the gateway, {Clients} clients, {requests} requests per run, the two set-ups alternated over {Rounds} rounds ({Environment.ProcessorCount} cores).");
        Console.WriteLine();
        Console.WriteLine("| inference replicas | throughput (median of rounds) | rounds | p50 | p99 |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (name, _) in targets)
        {
            var rounds = string.Join(", ", throughput[name].Select(value => value.ToString("F0", CultureInfo.InvariantCulture)));
            Console.WriteLine($"| {name} | {GatewayBenchmark.Median(throughput[name]):F0} req/s | {rounds} | {latency[name].P50:F2} ms | {latency[name].P99:F2} ms |");
        }

        Console.WriteLine();
        Console.WriteLine(FormattableString.Invariant($"2 replicas / 1 replica throughput: {GatewayBenchmark.Median(throughput["2 replicas"]) / GatewayBenchmark.Median(throughput["1 replica"]):F2}"));
        return 0;
    }
}
