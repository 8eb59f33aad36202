using System.Globalization;
using MsSwift.Contracts;
using MsSwift.Training.Jobs;

namespace MsSwift.Training.Http;

/// <summary>
/// The coordinator's read-only JSON API under <c>/training/jobs</c> (the gateway forwards
/// <c>/training/*</c> to it for <c>training</c> keys): the newest jobs, one job, and a job's loss
/// curves. Requests and statuses are in protobuf JSON, as gRPC clients see them; errors are ProblemDetails.
/// </summary>
internal static class TrainingEndpoints
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapTrainingEndpoints(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/training/jobs");
        jobs.MapGet("", async (HttpRequest request, JobStore records) =>
            Limit(request.Query) is { } limit
                ? Results.Json(new JobList(await records.ListNewestAsync(limit)), ProtobufJson.Options)
                : Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"an integer from 1 to {MaxLimit} (default {DefaultLimit})"] }));
        jobs.MapGet("/{jobId}", async (string jobId, JobStore records) =>
            Malformed(jobId) ?? (await records.FindAsync(jobId) is { } job ? Results.Json(job, ProtobufJson.Options) : Unknown(jobId)));
        jobs.MapGet("/{jobId}/history", async (string jobId, JobStore records, JobHistory history) =>
            Malformed(jobId) ?? (await records.ReadAsync(jobId) is null ? Unknown(jobId) : Results.Json(await history.ReadAsync(jobId), ProtobufJson.Options)));
        return app;
    }

    /// <summary>The <c>limit</c> query value, <see cref="DefaultLimit"/> when absent; null when it is not a whole number in range.</summary>
    private static int? Limit(IQueryCollection query)
    {
        if (!query.TryGetValue("limit", out var values))
        {
            return DefaultLimit;
        }

        // Repeated values join with ',' and so fail to parse, as they should.
        return int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= MaxLimit ? limit : null;
    }

    private static IResult? Malformed(string jobId) => JobIds.IsWellFormed(jobId)
        ? null
        : Results.ValidationProblem(new Dictionary<string, string[]> { ["jobId"] = [$"a job id is {JobIds.Rule}"] });

    private static IResult Unknown(string jobId) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown job", detail: $"no training job '{jobId}'");

    /// <summary>The body of <c>GET /training/jobs</c>.</summary>
    internal sealed record JobList(IReadOnlyList<JobSummary> Jobs);
}
