using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using MsSwift.Contracts.V1;
using MsSwift.Inference.OpenAi;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Tests;

/// <summary>
/// The OpenAI-compatible stream's events, written from a generation's events: the end as OpenAI
/// ends it, and a failure after the stream began as a last error event a client raises, not a
/// stream that just stops. The generation is a fake here; <see cref="OpenAiApiTests"/> streams from a real engine.
/// </summary>
public sealed class OpenAiStreamEventsTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    [Fact]
    public async Task A_generation_that_ends_gives_its_pieces_the_finish_reason_and_done()
    {
        var lines = await WriteAsync(Events(fail: false));

        Assert.Equal(["data: {\"text\":\"he\"}", "data: {\"text\":\"llo\"}", "data: {\"finish\":\"stop\"}", "data: [DONE]"], lines);
    }

    [Fact]
    public async Task A_generation_that_fails_after_the_first_piece_ends_with_an_error_event_and_no_done()
    {
        var lines = await WriteAsync(Events(fail: true));

        Assert.Equal("data: {\"text\":\"he\"}", lines[0]);
        Assert.Equal(2, lines.Count);
        var error = JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Equal("model_unavailable", error.GetProperty("code").GetString());
        Assert.Contains("unloaded", error.GetProperty("message").GetString());
    }

    private static async Task<List<string>> WriteAsync(IAsyncEnumerable<PredictStreamEvent> generation)
    {
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        await using var events = generation.GetAsyncEnumerator();
        var more = await events.MoveNextAsync();

        await OpenAiEndpoints.WriteEventsAsync(context.Response, events, more, "tiny", "prompt", Json,
            (text, finish, _, _) => text is not null ? new { Text = text } : new { Finish = finish }, usageEvent: false);

        return [.. Encoding.UTF8.GetString(body.ToArray()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)];
    }

    private static async IAsyncEnumerable<PredictStreamEvent> Events(bool fail)
    {
        await Task.Yield();
        yield return new PredictStreamEvent("he", null);
        if (fail)
        {
            throw PredictException.Unavailable("the model version was unloaded before this request finished; retry");
        }

        yield return new PredictStreamEvent("llo", null);
        yield return new PredictStreamEvent(null, new PredictResponse { Model = "tiny", ModelVersion = "v1", FinishReason = "stop" });
    }
}
