using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MsSwift.Modeling.Generation;
using OpenAI;
using OpenAI.Chat;

namespace MsSwift.Inference.Tests;

/// <summary>The OpenAI-compatible HTTP API, driven by the official OpenAI .NET client and by raw HTTP.</summary>
[Collection(InferenceServerGroup.Name)]
public sealed class OpenAiApiTests(InferenceServerFixture fixture)
{
    private InferenceServer Server => fixture.Server;

    private OpenAIClient Client => new(new ApiKeyCredential("not-checked-here"),
        new OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{Server.HttpPort}/v1") });

    private HttpClient Http => new() { BaseAddress = new Uri($"http://127.0.0.1:{Server.HttpPort}") };

    [Fact]
    public async Task The_official_client_lists_the_models_and_their_versions()
    {
        var models = await Client.GetOpenAIModelClient().GetModelsAsync();
        var raw = JsonDocument.Parse(await Http.GetStringAsync("/v1/models")).RootElement;

        Assert.Equal(["tiny", "tiny:v1", "tiny:v2"], models.Value.Select(model => model.Id).Order());
        Assert.Equal("list", raw.GetProperty("object").GetString());
        Assert.Equal("msswift", raw.GetProperty("data")[0].GetProperty("owned_by").GetString());
    }

    [Fact]
    public async Task The_official_client_gets_the_greedy_chat_completion_with_usage()
    {
        var expected = await GreedyAsync("user: hello there\nassistant:", 12);

        var completion = await Client.GetChatClient("tiny").CompleteChatAsync(
            [new UserChatMessage("hello there")], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });

        Assert.Equal(expected, completion.Value.Content[0].Text);
        Assert.Equal(ChatFinishReason.Length, completion.Value.FinishReason);
        Assert.Equal("tiny:v1", completion.Value.Model);
        Assert.Equal(12, completion.Value.Usage.OutputTokenCount);
        Assert.Equal("user: hello there\nassistant:".Length, completion.Value.Usage.InputTokenCount);
    }

    [Fact]
    public async Task The_official_client_streams_the_same_chat_completion()
    {
        var chat = Client.GetChatClient("tiny:v2");
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 20 };
        var whole = await chat.CompleteChatAsync([new UserChatMessage("stream it")], options);

        var pieces = new List<string>();
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("stream it")], options))
        {
            pieces.AddRange(update.ContentUpdate.Select(part => part.Text));
            finish ??= update.FinishReason;
        }

        Assert.True(pieces.Count > 1, "the answer came in one piece: nothing was streamed");
        Assert.Equal(whole.Value.Content[0].Text, string.Concat(pieces));
        Assert.Equal(ChatFinishReason.Length, finish);
    }

    [Fact]
    public async Task Completions_answer_in_openais_shape_and_stream_as_server_sent_events()
    {
        var expected = await GreedyAsync("Once upon", 8);
        var request = new { model = "tiny", prompt = "Once upon", max_tokens = 8, temperature = 0 };

        var whole = await Http.PostAsJsonAsync("/v1/completions", request);
        var body = JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement;
        var streamed = await Http.PostAsJsonAsync("/v1/completions", new { model = "tiny", prompt = "Once upon", max_tokens = 8, temperature = 0, stream = true });
        var events = (await streamed.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(expected, body.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(8 + 9, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType?.MediaType);
        Assert.All(events, line => Assert.StartsWith("data: ", line));
        Assert.Equal("data: [DONE]", events[^1]);
        var text = string.Concat(events[..^1].Select(line => JsonDocument.Parse(line["data: ".Length..]).RootElement
            .GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(expected, text);
    }

    [Fact]
    public async Task Errors_come_back_in_openais_error_shape_with_the_right_status()
    {
        var unknown = await Http.PostAsJsonAsync("/v1/completions", new { model = "giant", prompt = "x" });
        var badTemperature = await Http.PostAsJsonAsync("/v1/chat/completions", new { model = "tiny", messages = new[] { new { role = "user", content = "x" } }, temperature = 11 });
        var badJson = await Http.PostAsync("/v1/chat/completions", new StringContent("{not json", Encoding.UTF8, "application/json"));
        var clientError = await Assert.ThrowsAsync<ClientResultException>(() =>
            Client.GetChatClient("giant").CompleteChatAsync([new UserChatMessage("x")]));

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var notFound = (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("model_not_found", notFound.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", notFound.GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badTemperature.StatusCode);
        Assert.Equal("temperature", (await badTemperature.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Equal("body", (await badJson.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(404, clientError.Status);
    }

    private async Task<string> GreedyAsync(string prompt, int maxNewTokens)
    {
        using var loaded = await Server.LoadAsync("tiny/v1/model.safetensors");
        return new TextGenerator(loaded.Model, loaded.Tokenizer).Generate(prompt, new GenerationOptions { MaxNewTokens = maxNewTokens }).Text;
    }
}
