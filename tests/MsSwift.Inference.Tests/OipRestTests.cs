using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Tests;

/// <summary>The Open Inference Protocol's REST API (KServe v2) over raw HTTP, as its JSON spec writes requests.</summary>
[Collection(InferenceServerGroup.Name)]
public sealed class OipRestTests(InferenceServerFixture fixture)
{
    private HttpClient Http => new() { BaseAddress = fixture.Server.HttpAddress };

    [Fact]
    public async Task Health_readiness_and_metadata_answer_as_the_protocol_says()
    {
        using var http = Http;

        var live = await http.GetAsync("/v2/health/live");
        var ready = await http.GetAsync("/v2/health/ready");
        var modelReady = await http.GetAsync("/v2/models/tiny/ready");
        var versionReady = await http.GetAsync("/v2/models/tiny/versions/v2/ready");
        var unknownReady = await http.GetAsync("/v2/models/tiny/versions/v9/ready");
        var metadata = await http.GetFromJsonAsync<JsonElement>("/v2/models/tiny");
        var versionMetadata = await http.GetAsync("/v2/models/tiny/versions/v2");
        var server = await http.GetFromJsonAsync<JsonElement>("/v2");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, modelReady.StatusCode);
        Assert.Equal(HttpStatusCode.OK, versionReady.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownReady.StatusCode);
        Assert.Equal("tiny", metadata.GetProperty("name").GetString());
        Assert.Equal(["v1", "v2"], metadata.GetProperty("versions").EnumerateArray().Select(version => version.GetString()).Order());
        var input = metadata.GetProperty("inputs")[0];
        Assert.Equal(("text_input", "BYTES", -1), (input.GetProperty("name").GetString(), input.GetProperty("datatype").GetString(), input.GetProperty("shape")[0].GetInt32()));
        Assert.Equal("text_output", metadata.GetProperty("outputs")[0].GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, versionMetadata.StatusCode);
        Assert.Equal("msswift", server.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Infer_with_a_bytes_tensor_answers_the_greedy_text_as_a_bytes_tensor()
    {
        var expected = await GreedyAsync("Once upon", 8);
        using var http = Http;
        var body = new
        {
            id = "r1",
            parameters = new { max_tokens = 8, temperature = 0.0, top_p = 1 },
            inputs = new[] { new { name = "text_input", shape = new[] { 1 }, datatype = "BYTES", data = new[] { "Once upon" } } },
            outputs = new[] { new { name = "text_output" } },
        };

        var response = await http.PostAsJsonAsync("/v2/models/tiny/infer", body);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(("tiny", "v1", "r1"), (json.GetProperty("model_name").GetString(), json.GetProperty("model_version").GetString(), json.GetProperty("id").GetString()));
        var output = json.GetProperty("outputs")[0];
        Assert.Equal(("text_output", "BYTES", 1), (output.GetProperty("name").GetString(), output.GetProperty("datatype").GetString(), output.GetProperty("shape")[0].GetInt32()));
        Assert.Equal(expected, output.GetProperty("data")[0].GetString());
        Assert.Equal(8, json.GetProperty("parameters").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Infer_takes_nested_data_in_row_major_order_and_a_version_in_the_path()
    {
        var expected = new[] { await GreedyAsync("ab", 4, "v2"), await GreedyAsync("cd", 4, "v2") };
        using var http = Http;
        var body = """{"inputs":[{"name":"text_input","shape":[2,1],"datatype":"BYTES","data":[["ab"],["cd"]]}],"parameters":{"max_tokens":4}}""";

        var response = await http.PostAsync("/v2/models/tiny/versions/v2/infer", new StringContent(body, Encoding.UTF8, "application/json"));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("v2", json.GetProperty("model_version").GetString());
        var output = json.GetProperty("outputs")[0];
        Assert.Equal([2, 1], output.GetProperty("shape").EnumerateArray().Select(dimension => dimension.GetInt32()));
        Assert.Equal(expected, output.GetProperty("data").EnumerateArray().Select(text => text.GetString()));
    }

    public static TheoryData<string, string, HttpStatusCode, string> HostileBodies => new()
    {
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["hi"]}]""", HttpStatusCode.BadRequest, "not valid JSON" },
        { "tiny", "", HttpStatusCode.BadRequest, "not valid JSON" },
        { "tiny", "[1,2]", HttpStatusCode.BadRequest, "body" },
        { "tiny", """{"inputs":[]}""", HttpStatusCode.BadRequest, "inputs" },
        { "tiny", """{"parameters":{}}""", HttpStatusCode.BadRequest, "inputs" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"FP32","data":[1.5]}]}""", HttpStatusCode.BadRequest, "inputs[0].datatype" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[3],"datatype":"BYTES","data":["a","b"]}]}""", HttpStatusCode.BadRequest, "inputs[0].contents" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":[7]}]}""", HttpStatusCode.BadRequest, "inputs[0].data" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["\ud800"]}]}""", HttpStatusCode.BadRequest, "inputs[0].data" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":["1"],"datatype":"BYTES","data":["a"]}]}""", HttpStatusCode.BadRequest, "inputs[0].shape" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1e30],"datatype":"BYTES","data":["a"]}]}""", HttpStatusCode.BadRequest, "inputs[0].shape" },
        { "tiny", """{"inputs":[{"name":"text_input","datatype":"BYTES","data":["a"]}]}""", HttpStatusCode.BadRequest, "inputs[0].shape" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES"}]}""", HttpStatusCode.BadRequest, "inputs[0].data" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["a"]}],"parameters":{"max_tokens":"lots"}}""", HttpStatusCode.BadRequest, "parameters.max_tokens" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["a"]}],"parameters":{"temperature":[1]}}""", HttpStatusCode.BadRequest, "parameters.temperature" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["a"]}],"parameters":{"temperature":99.5}}""", HttpStatusCode.BadRequest, "parameters.temperature" },
        { "nope", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["a"]}]}""", HttpStatusCode.NotFound, "nope" },
        // System.Text.Json decodes property names only when it looks one up: a name that is not valid Unicode.
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["hi"]}],"\udc00":0}""", HttpStatusCode.BadRequest, "body" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["hi"]}],"parameters":{"\ud800":1}}""", HttpStatusCode.BadRequest, "body" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["hi"],"\ud800x":1}]}""", HttpStatusCode.BadRequest, "body" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[2],"datatype":"BYTES","data":["a","b","c","d"]}]}""", HttpStatusCode.BadRequest, "holds more elements than its shape's 2" },
        // Errors stay small whatever the request repeats.
        { "tiny", """{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["a"]}],"outputs":[{"name":"x"},{"name":"y"},{"name":"z"}]}""", HttpStatusCode.BadRequest, "unknown output 'x' (and 2 more unknown outputs)" },
        { "tiny", """{"inputs":[{"name":"text_input","shape":[-1,0,0,0,0,0,0,0,0,0],"datatype":"BYTES","data":["a"]}]}""", HttpStatusCode.BadRequest, "[-1, 0, 0, 0, 0, 0, 0, 0, ...] (10 dimensions)" },
    };

    [Theory]
    [MemberData(nameof(HostileBodies))]
    public async Task A_hostile_body_gets_the_protocols_error_with_the_status(string model, string body, HttpStatusCode status, string mentions)
    {
        using var http = Http;

        var response = await http.PostAsync($"/v2/models/{model}/infer", new StringContent(body, Encoding.UTF8, "application/json"));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("error", json.EnumerateObject().Single().Name);
        Assert.Contains(mentions, json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Unknown_models_and_versions_and_the_binary_extension_are_refused_with_an_error_body()
    {
        using var http = Http;
        using var binary = new HttpRequestMessage(HttpMethod.Post, "/v2/models/tiny/infer") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        binary.Headers.Add("Inference-Header-Content-Length", "2");

        var unknownModel = await http.GetAsync("/v2/models/nope");
        var unknownVersion = await http.GetAsync("/v2/models/tiny/versions/v9");
        var versionInfer = await http.PostAsync("/v2/models/tiny/versions/v9/infer",
            new StringContent("""{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["a"]}]}""", Encoding.UTF8, "application/json"));
        var binaryResponse = await http.SendAsync(binary);

        Assert.Equal(HttpStatusCode.NotFound, unknownModel.StatusCode);
        Assert.Contains("nope", (await unknownModel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknownVersion.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, versionInfer.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, binaryResponse.StatusCode);
        Assert.Contains("binary", (await binaryResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    private async Task<string> GreedyAsync(string prompt, int maxNewTokens, string version = "v1")
    {
        using var loaded = await fixture.Server.LoadAsync($"tiny/{version}/model.safetensors");
        return new TextGenerator(loaded.Model, loaded.Tokenizer).Generate(prompt, new GenerationOptions { MaxNewTokens = maxNewTokens }).Text;
    }
}
