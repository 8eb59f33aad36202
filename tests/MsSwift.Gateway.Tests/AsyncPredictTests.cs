using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MsSwift.Contracts;
using MsSwift.Contracts.V1;

namespace MsSwift.Gateway.Tests;

/// <summary>The asynchronous predict path from the gateway through the real broker to a real inference replica and back.</summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class AsyncPredictTests(GatewayCluster cluster)
{
    [Fact]
    public async Task A_request_queued_at_the_gateway_is_answered_on_the_results_topic_within_the_callers_trace()
    {
        using var user = cluster.Http(GatewayCluster.UserKey);
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/async/predict")
        {
            Content = JsonContent.Create(new { request_id = "gateway-async-1", prompt = "hello", parameters = new { max_new_tokens = 3 } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        var accepted = await user.SendAsync(request);
        var body = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        var message = Assert.Single(cluster.Infrastructure.Kafka.ReadMessages(KafkaTopics.InferenceResults, "app/gateway-async-1", messages => messages.Count > 0, TimeSpan.FromSeconds(60)));
        var result = PredictResult.Parser.ParseFrom(message.Value);

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        // Scoped to the caller's key.
        Assert.Equal($"{GatewayCluster.UserKey.Name}/gateway-async-1", body.GetProperty("request_id").GetString());
        Assert.Equal(KafkaTopics.InferenceResults, body.GetProperty("results_topic").GetString());
        Assert.Equal(PredictResult.OutcomeOneofCase.Response, result.OutcomeCase);
        Assert.Equal(3, result.Response.Usage.CompletionTokens);
        // The caller's trace runs through the gateway, the request message and inference into the result.
        Assert.True(message.Headers.TryGetLastBytes("traceparent", out var traceparent));
        Assert.Equal(traceId.ToHexString(), Encoding.UTF8.GetString(traceparent).Split('-')[1]);
    }

    [Fact]
    public async Task Requests_without_an_id_under_one_parent_span_each_get_their_own_and_all_are_answered()
    {
        using var user = cluster.Http(GatewayCluster.UserKey);
        var parent = $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01";
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/async/predict") { Content = JsonContent.Create(new { prompt = $"same parent {i}", parameters = new { max_new_tokens = 2 } }) };
            request.Headers.Add("traceparent", parent);
            var accepted = await user.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            ids.Add((await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("request_id").GetString()!);
        }

        Assert.Equal(5, ids.Distinct().Count());
        foreach (var id in ids)
        {
            var answered = cluster.Infrastructure.Kafka.ReadMessages(KafkaTopics.InferenceResults, id, messages => messages.Count > 0, TimeSpan.FromSeconds(60));
            Assert.Equal(PredictResult.OutcomeOneofCase.Response, PredictResult.Parser.ParseFrom(Assert.Single(answered).Value).OutcomeCase);
        }
    }

    [Fact]
    public async Task Malformed_requests_get_400_naming_the_field_and_callers_without_a_key_401()
    {
        using var user = cluster.Http(GatewayCluster.UserKey);
        using var anonymous = cluster.Http(null);

        var emptyPrompt = await user.PostAsJsonAsync("/async/predict", new { prompt = "" });
        var unknownField = await user.PostAsJsonAsync("/async/predict", new { prompt = "x", promt = "y" });
        var notJson = await user.PostAsync("/async/predict", new StringContent("prompt=x", Encoding.UTF8, "text/plain"));
        var longId = await user.PostAsJsonAsync("/async/predict", new { prompt = "x", request_id = new string('r', 200) });
        var noKey = await anonymous.PostAsJsonAsync("/async/predict", new { prompt = "x" });

        Assert.Equal("prompt", await InvalidFieldAsync(emptyPrompt));
        Assert.Equal("body", await InvalidFieldAsync(unknownField));
        Assert.Equal("body", await InvalidFieldAsync(notJson));
        Assert.Equal("request_id", await InvalidFieldAsync(longId));
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
    }

    private static async Task<string> InvalidFieldAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return Assert.Single(problem.GetProperty("errors").EnumerateObject()).Name;
    }
}
