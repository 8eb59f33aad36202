using System.Text.Json;

namespace MsSwift.Training.Tests;

/// <summary>The body of <c>GET /training/jobs/{jobId}/history</c>, read with System.Text.Json's web defaults (camelCase).</summary>
internal sealed record LossCurves(string JobId, List<LossAt> Loss, List<LossAt> EvalLoss)
{
    /// <summary>The job's loss history from the coordinator at <paramref name="http"/>; <paramref name="log"/> gets the raw body.</summary>
    public static async Task<LossCurves> ReadAsync(HttpClient http, string jobId, Action<string> log)
    {
        var body = await http.GetStringAsync($"/training/jobs/{jobId}/history");
        log($"GET /training/jobs/{jobId}/history: {body}");
        return JsonSerializer.Deserialize<LossCurves>(body, JsonSerializerOptions.Web)!;
    }
}

internal sealed record LossAt(long Step, double Loss);
