using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.V1;

namespace MsSwift.Training.Tests;

// The coordinator's JSON API (/training/jobs): jobs newest first, one job, and its loss history, for a real job.
public sealed partial class TrainJobTests
{
    [Fact]
    public async Task Jobs_are_listed_newest_first_and_shown_with_their_loss_history_over_http()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var startedAt = DateTime.UtcNow;
        var request = Request(steps: 6);
        request.EvalEvery = 2;
        var final = await LastStatusAsync(request, deadline.Token);
        var later = await FirstStatusAsync(Request(steps: 100_000));
        await _coordinator.Client.CancelTrainAsync(new CancelTrainRequest { JobId = later.JobId });
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };

        var listed = await http.GetAsync("/training/jobs");
        var jobs = (await listed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").EnumerateArray().ToList();
        var newest = (await http.GetFromJsonAsync<JsonElement>("/training/jobs?limit=1")).GetProperty("jobs").EnumerateArray().ToList();
        var shown = await http.GetFromJsonAsync<JsonElement>($"/training/jobs/{final.JobId}");
        var history = await HistoryAsync(http, final.JobId);
        output.WriteLine($"GET /training/jobs/{final.JobId}: {shown}");

        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Equal([later.JobId, final.JobId], jobs.Select(job => job.GetProperty("jobId").GetString()));
        Assert.Equal(later.JobId, Assert.Single(newest).GetProperty("jobId").GetString());
        Assert.True(JsonElement.DeepEquals(jobs[1], shown), $"{jobs[1]} != {shown}");
        // Request and status are embedded objects in protobuf JSON; the status is the one the Train stream ended with.
        Assert.Equal(JsonValueKind.Object, shown.GetProperty("request").ValueKind);
        var shownRequest = JsonParser.Default.Parse<TrainRequest>(shown.GetProperty("request").GetRawText());
        Assert.Equal(("foxes", 6, 2), (shownRequest.Dataset, shownRequest.Steps, shownRequest.EvalEvery));
        Assert.Equal(final, JsonParser.Default.Parse<TrainStatus>(shown.GetProperty("status").GetRawText()));
        Assert.Equal("TRAIN_STATE_CANCELLED", jobs[0].GetProperty("status").GetProperty("state").GetString());
        var created = jobs.Select(job => job.GetProperty("created").GetString()!).ToList();
        Assert.All(created, text => Assert.EndsWith("Z", text));
        var times = created.Select(text => DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)).ToList();
        Assert.All(times, time => Assert.InRange(time, startedAt.AddSeconds(-1), DateTime.UtcNow));
        Assert.True(times[0] >= times[1], string.Join(", ", created));

        // Every step's train loss (a 6-step job keeps all), the last one the final status's; an evaluation every 2 steps.
        Assert.Equal(final.JobId, history.JobId);
        Assert.Equal([1, 2, 3, 4, 5, 6], history.Loss.Select(point => point.Step));
        Assert.Equal(final.Loss, history.Loss[^1].Loss);
        Assert.Equal([2, 4, 6], history.EvalLoss.Select(point => point.Step));
        Assert.Equal(final.EvalLoss, history.EvalLoss[^1].Loss);
    }

    // One fact over all cases, not a theory: each case would pay for this class's whole cluster.
    [Fact]
    public async Task An_unknown_job_is_404_and_a_malformed_id_or_limit_is_400_as_problem_details()
    {
        using var http = new HttpClient { BaseAddress = _coordinator.HttpAddress, Timeout = TimeSpan.FromSeconds(10) };
        (string Path, HttpStatusCode Status, string? Field)[] cases =
        [
            ("/training/jobs/job-0123456789ab", HttpStatusCode.NotFound, null),
            ("/training/jobs/job-0123456789ab/history", HttpStatusCode.NotFound, null),
            ("/training/jobs/not-a-job", HttpStatusCode.BadRequest, "jobId"),
            ("/training/jobs/JOB-0123456789AB/history", HttpStatusCode.BadRequest, "jobId"),
            ("/training/jobs/job-0123456789abc", HttpStatusCode.BadRequest, "jobId"),
            ("/training/jobs/job-0123456789ab%0A", HttpStatusCode.BadRequest, "jobId"),
            ("/training/jobs?limit=0", HttpStatusCode.BadRequest, "limit"),
            ("/training/jobs?limit=1001", HttpStatusCode.BadRequest, "limit"),
            ("/training/jobs?limit=ten", HttpStatusCode.BadRequest, "limit"),
            ("/training/jobs?limit=", HttpStatusCode.BadRequest, "limit"),
            ("/training/jobs?limit=5&limit=6", HttpStatusCode.BadRequest, "limit"),
        ];

        foreach (var (path, expected, field) in cases)
        {
            using var response = await http.GetAsync(path);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

            Assert.True(expected == response.StatusCode, $"{path}: {(int)response.StatusCode} {problem}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            if (field is null)
            {
                Assert.Equal("Unknown job", problem.GetProperty("title").GetString());
                Assert.Contains("job-0123456789ab", problem.GetProperty("detail").GetString());
            }
            else
            {
                Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{path}: {problem}");
            }
        }
    }

    /// <summary>Starts the job and follows its Train stream to the end; its last status.</summary>
    private async Task<TrainStatus> LastStatusAsync(TrainRequest request, CancellationToken cancellationToken)
    {
        using var call = _coordinator.Client.Train(request, cancellationToken: cancellationToken);
        var statuses = await call.ResponseStream.ReadAllAsync(cancellationToken).ToListAsync(cancellationToken);
        Assert.Equal(TrainState.Succeeded, statuses[^1].State);
        return statuses[^1];
    }

    private Task<LossCurves> HistoryAsync(HttpClient http, string jobId) => LossCurves.ReadAsync(http, jobId, output.WriteLine);
}
