using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Data.Datasets;
using MsSwift.Testing.Services;

namespace MsSwift.Data.Tests;

// RANDOM sampling is a function of the request alone: any replica, started any time, serves a job's step the same windows.
public sealed partial class DataServiceTests
{
    [Fact]
    public async Task A_jobs_random_windows_are_identical_from_two_data_service_processes_started_separately()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        var text = string.Join("\n\n", Enumerable.Range(0, 2000).Select(i => $"paragraph {i} with its own words {i * 7919 % 10007}"));
        using var created = await http.PostAsync("/datasets/sampled?validation_percent=0", new StringContent(text));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var version = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetString()!;
        await using var second = await DataServer.StartReadyAsync(_infrastructure, [_allowed]);
        // What TrainingBatches asks for step 5 of a job with seed 42, shard 1 of 3.
        var step = new BatchRequest { Name = "sampled", Shard = 1, ShardCount = 3, BatchSize = 4, Window = 16, RandomBatches = 3, Seed = 42 * 1_000_003L + 5 };

        var fromFirst = await WindowsAsync(_server.Client, step);
        var fromSecond = await WindowsAsync(second.Client, step);
        var nextStep = await WindowsAsync(second.Client, new BatchRequest(step) { Seed = step.Seed + 1 });

        Assert.Equal(12, fromFirst.Count);
        Assert.Equal(fromFirst, fromSecond);
        Assert.NotEqual(fromFirst, nextStep);
        // And the windows are the ones the pinned plan names, read from the stored file by this third process.
        using var stored = TokenFile.Open(Path.Combine(_infrastructure.CheckpointDirectory, "datasets", "sampled", version, "train.tokens"));
        var planned = new List<string>();
        foreach (var start in ShardPlan.RandomWindows(stored.Count, 16, 1, 3, 12, step.Seed))
        {
            planned.Add(string.Join(',', await stored.ReadAsync(start, 17, CancellationToken.None)));
        }

        Assert.Equal(planned, fromFirst);
    }

    private static async Task<List<string>> WindowsAsync(DataService.DataServiceClient client, BatchRequest request)
    {
        using var call = client.StreamBatches(request, deadline: DateTime.UtcNow.AddSeconds(30));
        var batches = await call.ResponseStream.ReadAllAsync().ToListAsync();
        return batches.SelectMany(Rows).Select(row => string.Join(',', row)).ToList();
    }
}
