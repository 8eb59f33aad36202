using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Testing.Services;

namespace MsSwift.Bench;

/// <summary>
/// Data at scale: a synthetic text file past 2 GiB (generated under the temporary directory and
/// deleted afterwards) ingested by a real data-service process from its path with the byte
/// tokenizer, so the train split passes 2^31 tokens; then batches served from it, random and
/// sequential (the latter at the far end of the file), timed per call, by a second data-service
/// process started after the ingest (a fresh replica). Peak RSS is each process's VmHWM.
/// </summary>
internal static class DataBenchmark
{
    private const int Window = 256;
    private const int BatchSize = 8;
    private static readonly string[] Words = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "thou"];

    public static async Task<int> RunAsync(double gibibytes, int calls)
    {
        var directory = Directory.CreateTempSubdirectory("msswift-data-bench-").FullName;
        var cache = Directory.CreateTempSubdirectory("msswift-data-bench-cache-").FullName;
        try
        {
            var corpus = Path.Combine(directory, "corpus.txt");
            var watch = Stopwatch.StartNew();
            var bytes = await GenerateAsync(corpus, (long)(gibibytes * (1L << 30)));
            Console.WriteLine($"corpus: {bytes:N0} bytes ({bytes / (double)(1L << 30):F2} GiB) of distinct ~1 KB paragraphs, generated in {watch.Elapsed.TotalSeconds:F0} s");

            await using var infrastructure = await ServiceInfrastructure.StartAsync();
            var data = await DataServer.StartReadyAsync(infrastructure, [directory], new Dictionary<string, string?> { ["Data__CacheDirectory"] = cache });
            Console.WriteLine($"data service pid {data.ProcessId}: VmHWM {PeakRssMiB(data.ProcessId):F0} MiB after start");

            using var http = new HttpClient { BaseAddress = data.HttpAddress, Timeout = Timeout.InfiniteTimeSpan };
            watch.Restart();
            using var created = await http.PostAsJsonAsync("/datasets/bench/from-path?tokenizer=byte&validation_percent=1", new { path = corpus });
            var ingest = watch.Elapsed;
            var body = await created.Content.ReadAsStringAsync();
            if (!created.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"ingest failed: {(int)created.StatusCode} {body}{Environment.NewLine}{data.Output}");
                await data.DisposeAsync();
                return 1;
            }

            var report = JsonDocument.Parse(body).RootElement;
            var trainTokens = long.Parse(report.GetProperty("trainTokens").GetString()!, CultureInfo.InvariantCulture);
            Console.WriteLine($"ingest: {ingest.TotalSeconds:F0} s ({bytes / ingest.TotalSeconds / 1e6:F0} MB/s), {report.GetProperty("documents").GetString()} documents, {trainTokens:N0} train tokens ({trainTokens * 4 / (double)(1L << 30):F2} GiB file, past 2^31: {trainTokens > int.MaxValue}), {report.GetProperty("validationTokens").GetString()} validation tokens");
            Console.WriteLine($"ingest peak RSS (VmHWM): {PeakRssMiB(data.ProcessId):F0} MiB");

            // Served by a fresh replica, as after a restart: its peak RSS is serving's alone, not ingest's leftover heap.
            await data.DisposeAsync();
            await using var replica = await DataServer.StartReadyAsync(infrastructure, [directory], new Dictionary<string, string?> { ["Data__CacheDirectory"] = cache });
            var lastBatch = (trainTokens - 1) / Window / BatchSize - 1;
            var random = await TimeAsync(calls, call => new BatchRequest { Name = "bench", ShardCount = 1, BatchSize = BatchSize, Window = Window, RandomBatches = 1, Seed = call }, replica.Client);
            var sequential = await TimeAsync(calls, call => new BatchRequest { Name = "bench", ShardCount = 1, BatchSize = BatchSize, Window = Window, FirstBatch = lastBatch - call, MaxBatches = 1 }, replica.Client);
            Console.WriteLine($"serving: {calls} calls each of {BatchSize}x{Window + 1} tokens; sequential calls read the last batches of the file (token offsets near {trainTokens:N0})");
            Console.WriteLine("| sampling | mean | p50 | p99 |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine($"| random | {random.Average():F2} ms | {Percentile(random, 0.5):F2} ms | {Percentile(random, 0.99):F2} ms |");
            Console.WriteLine($"| sequential | {sequential.Average():F2} ms | {Percentile(sequential, 0.5):F2} ms | {Percentile(sequential, 0.99):F2} ms |");
            Console.WriteLine($"serving peak RSS (VmHWM of the fresh replica, pid {replica.ProcessId}): {PeakRssMiB(replica.ProcessId):F0} MiB");
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
            Directory.Delete(cache, recursive: true);
        }
    }

    /// <summary>Distinct paragraphs of random words (each numbered, so none is a duplicate) up to about <paramref name="target"/> bytes.</summary>
    private static async Task<long> GenerateAsync(string path, long target)
    {
        var random = new Random(1);
        await using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false), 1 << 20);
        var paragraph = new StringBuilder();
        long written = 0;
        for (long i = 0; written < target; i++)
        {
            paragraph.Clear().Append(CultureInfo.InvariantCulture, $"Paragraph {i}:");
            while (paragraph.Length < 1000)
            {
                paragraph.Append(' ').Append(Words[random.Next(Words.Length)]);
                if (random.Next(12) == 0)
                {
                    paragraph.Append(".\n");
                }
            }

            paragraph.Append("\n\n");
            await writer.WriteAsync(paragraph);
            written += paragraph.Length;
        }

        return written;
    }

    private static async Task<List<double>> TimeAsync(int calls, Func<int, BatchRequest> request, DataService.DataServiceClient client)
    {
        const int warmUp = 3;
        var times = new List<double>(calls);
        for (var call = 0; call < warmUp + calls; call++)
        {
            var watch = Stopwatch.StartNew();
            using var stream = client.StreamBatches(request(call));
            var batches = await stream.ResponseStream.ReadAllAsync().ToListAsync();
            watch.Stop();
            if (batches is not [{ Rows: BatchSize, Columns: Window + 1 } batch] || batch.Tokens.Any(token => token is < 0 or > 255))
            {
                throw new InvalidOperationException($"unexpected batch for {request(call)}: {batches.Count} messages");
            }

            if (call >= warmUp)
            {
                times.Add(watch.Elapsed.TotalMilliseconds);
            }
        }

        return times;
    }

    private static double Percentile(List<double> values, double quantile)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(quantile * (sorted.Count - 1)))];
    }

    /// <summary>The process's peak resident set (VmHWM) so far, in MiB.</summary>
    private static double PeakRssMiB(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(line => line.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Select(line => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0).Single();

}
