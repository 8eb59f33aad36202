using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using MsSwift.Contracts.V1;
using MsSwift.Testing;
using Xunit.Abstractions;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// Every public endpoint of the front door fed the worst inputs we could think of: each must get
/// an answer below 500 (a 4xx, or a 2xx where the odd-looking input is in fact valid, such as a
/// temperature of 0 or -0) or a precise gRPC status, and the next valid request must still succeed.
/// </summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class HostileInputTests(GatewayCluster cluster, ITestOutputHelper output)
{
    private static readonly string[] NumericFields = ["max_tokens", "temperature", "top_p", "top_k", "seed", "max_completion_tokens", "n"];

    private static readonly string[] Models =
    [
        "\"\"", "\"nope\"", "\"tiny:nope\"", "\"tiny:\"", "\":v1\"", "\"../../etc/passwd\"", "\"tiny\\n\"", "\"tiny\\u0000\"",
        $"\"{new string('m', 5000)}\"", "5", "null", "[\"tiny\"]",
    ];

    [Fact]
    public async Task Hostile_http_bodies_get_4xx_and_the_next_valid_request_succeeds()
    {
        using var admin = cluster.Http(GatewayCluster.AdminKey);
        var failures = new List<string>();
        var tried = 0;
        var accepted = 0;
        var previous = "";
        foreach (var (path, body) in HttpInputs())
        {
            tried++;
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            try
            {
                using var response = await admin.PostAsync(path, content);
                if ((int)response.StatusCode >= 500)
                {
                    failures.Add($"{(int)response.StatusCode} for POST {path} {Describe(body)}: {Truncate(await response.Content.ReadAsStringAsync())}");
                }
                else if (response.IsSuccessStatusCode)
                {
                    accepted++;
                    output.WriteLine($"accepted: {(int)response.StatusCode} for POST {path} {Describe(body)}");
                }
            }
            catch (HttpRequestException error)
            {
                failures.Add($"no answer ({error.Message}: {error.InnerException?.Message}) for POST {path} {Describe(body)}, after {previous}");
            }

            previous = $"POST {path} {Describe(body)}";

            if (tried % 50 == 0)
            {
                await AssertAValidCompletionSucceedsAsync(admin);
            }
        }

        await AssertAValidCompletionSucceedsAsync(admin);
        if (failures.Count > 0)
        {
            output.WriteLine(ErrorsIn(cluster.Gateway.Output) + ErrorsIn(cluster.Inference.Output));
        }

        output.WriteLine($"{tried} hostile HTTP bodies tried: {accepted} were valid and answered 2xx, {tried - accepted - failures.Count} refused with 4xx, {failures.Count} failed");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));
    }

    [Fact]
    public async Task Hostile_paths_and_keys_get_4xx_and_the_next_valid_request_succeeds()
    {
        using var admin = cluster.Http(GatewayCluster.AdminKey);
        var failures = new List<string>();
        var tried = 0;
        foreach (var name in HostileInputs.Names)
        {
            foreach (var (method, path) in new[]
            {
                (HttpMethod.Get, $"/registry/models/{name}"),
                (HttpMethod.Post, $"/registry/models/{name}/versions/{name}/promote"),
                (HttpMethod.Post, $"/registry/models/{name}/rollback"),
                (HttpMethod.Delete, $"/registry/models/{name}/canary"),
                (HttpMethod.Post, $"/registry/models/{name}/versions/{name}/archive"),
                (HttpMethod.Delete, $"/registry/models/{name}/versions/{name}"),
                (HttpMethod.Get, $"/v1/models/{name}"),
            })
            {
                tried++;
                using var request = new HttpRequestMessage(method, path);
                using var response = await admin.SendAsync(request);
                if ((int)response.StatusCode is < 400 or >= 500)
                {
                    failures.Add($"{(int)response.StatusCode} for {method} {path}");
                }
            }
        }

        string?[] keys = [null, "", "wrong-key-0123456789abcdef", "Bearer", new string('k', 8000), "admin-key-0123456789abcdeF", "admin-key", "%00%0a", "' OR 1=1 --"];
        foreach (var key in keys)
        {
            tried++;
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            if (key is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
            }

            using var http = cluster.Http(null);
            using var response = await http.SendAsync(request);
            if (response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest or HttpStatusCode.RequestHeaderFieldsTooLarge or HttpStatusCode.TooManyRequests))
            {
                failures.Add($"{(int)response.StatusCode} for key {Truncate(key ?? "(none)")}");
            }
        }

        await AssertAValidCompletionSucceedsAsync(admin);
        output.WriteLine($"{tried} hostile paths and keys tried, {failures.Count} answered outside 4xx");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));
    }

    [Fact]
    public async Task Hostile_grpc_messages_get_a_precise_status_and_the_next_valid_call_succeeds()
    {
        var headers = GatewayCluster.Credentials(GatewayCluster.AdminKey);
        var failures = new List<string>();
        var tried = 0;
        foreach (var bytes in HostileInputs.RandomBytes([1, 2, 3, 7, 16, 100, 1000, 3000], each: 5))
        {
            tried++;
            await ExpectStatusAsync(() => HostileInputs.CallRawAsync(cluster.GrpcChannel, "msswift.v1.ModelService", "Predict", MethodType.Unary, bytes, headers),
                $"{bytes.Length} random bytes", failures, StatusCode.InvalidArgument);
        }

        foreach (var request in HostilePredictRequests())
        {
            tried++;
            await ExpectStatusAsync(() => cluster.Models.PredictAsync(request, headers, DateTime.UtcNow.AddSeconds(30)).ResponseAsync,
                request.ToString(), failures, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.ResourceExhausted);
        }

        tried++;
        await ExpectStatusAsync(() => cluster.Models.PredictAsync(new PredictRequest { InputData = ByteString.CopyFromUtf8("x") }, [], DateTime.UtcNow.AddSeconds(30)).ResponseAsync,
            "no key", failures, StatusCode.Unauthenticated);

        var valid = await cluster.Models.PredictAsync(new PredictRequest { InputData = ByteString.CopyFromUtf8("still here"), Parameters = new GenerationParameters { MaxNewTokens = 2 } }, headers, DateTime.UtcNow.AddSeconds(60));
        Assert.Equal(2, valid.Usage.CompletionTokens);
        output.WriteLine($"{tried} hostile gRPC messages tried, {failures.Count} with an imprecise status");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));
    }

    private static IEnumerable<PredictRequest> HostilePredictRequests()
    {
        double[] doubles = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -1, -double.Epsilon, 11, 1e308];
        foreach (var value in doubles)
        {
            yield return Predict(parameters => parameters.Temperature = value);
            yield return Predict(parameters => parameters.TopP = value);
        }

        foreach (var value in new[] { int.MinValue, -1, 0, 4097, int.MaxValue })
        {
            yield return Predict(parameters => parameters.MaxNewTokens = value);
        }

        yield return Predict(parameters => parameters.TopK = -5);
        yield return Predict(parameters => parameters.Stop.Add(Enumerable.Repeat("s", 100)));
        yield return Predict(parameters => parameters.Stop.Add(new string('s', 3000)));
        yield return Predict(parameters => parameters.Stop.Add(""));
        yield return new PredictRequest();
        yield return new PredictRequest { InputData = ByteString.CopyFromUtf8(new string('a', 3000)) };
        yield return new PredictRequest { InputData = ByteString.CopyFromUtf8("x"), Model = "nope" };
        yield return new PredictRequest { InputData = ByteString.CopyFromUtf8("x"), Model = "tiny", ModelVersion = "v404" };
        yield return new PredictRequest { InputData = ByteString.CopyFromUtf8("x"), Model = new string('m', 3000) };
        yield return new PredictRequest { InputData = ByteString.CopyFromUtf8("x"), Model = "tiny\n" };
    }

    private static PredictRequest Predict(Action<GenerationParameters> configure)
    {
        var parameters = new GenerationParameters { MaxNewTokens = 2 };
        configure(parameters);
        return new PredictRequest { InputData = ByteString.CopyFromUtf8("hostile"), Parameters = parameters };
    }

    private static IEnumerable<(string Path, byte[] Body)> HttpInputs()
    {
        // Registry writes only under names no other test uses, so nothing the cluster serves can change.
        string[] paths = ["/v1/completions", "/v1/chat/completions", "/async/predict", "/registry/models/fuzz-model/versions", "/registry/models/fuzz-model/rollback"];
        foreach (var path in paths)
        {
            foreach (var junk in HostileInputs.JunkBodies)
            {
                yield return (path, Encoding.UTF8.GetBytes(junk));
            }

            foreach (var bytes in HostileInputs.RandomBytes([1, 10, 100, 1000, 3000], each: 2))
            {
                yield return (path, bytes);
            }

            yield return (path, HostileInputs.InvalidUtf8Json("prompt"));
            yield return (path, [.. "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \""u8, 0xff, .. "\"}]}"u8]);
            yield return (path, Encoding.UTF8.GetBytes($"{{\"prompt\": \"{new string('p', GatewayCluster.MaxBodyBytes)}\"}}"));
            yield return (path, Encoding.UTF8.GetBytes("{\"prompt\": \"\\ud800\", \"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}"));
            foreach (var field in NumericFields)
            {
                foreach (var number in HostileInputs.Numbers)
                {
                    yield return (path, Encoding.UTF8.GetBytes(
                        $"{{\"model\": \"tiny\", \"prompt\": \"n\", \"messages\": [{{\"role\": \"user\", \"content\": \"n\"}}], \"{field}\": {number}, \"parameters\": {{\"{field}\": {number}}}}}"));
                }
            }

            foreach (var model in Models)
            {
                yield return (path, Encoding.UTF8.GetBytes($"{{\"model\": {model}, \"prompt\": \"m\", \"messages\": [{{\"role\": \"user\", \"content\": \"m\"}}], \"max_tokens\": 1}}"));
            }

            foreach (var stop in new[] { "5", "[5]", "[\"\"]", "\"\\ud800\"", "[\"\\udc00\"]", $"[{string.Join(",", Enumerable.Repeat("\"s\"", 100))}]", $"\"{new string('s', 3000)}\"", "{}" })
            {
                yield return (path, Encoding.UTF8.GetBytes($"{{\"model\": \"tiny\", \"prompt\": \"s\", \"messages\": [{{\"role\": \"user\", \"content\": \"s\"}}], \"stop\": {stop}, \"parameters\": {{\"stop\": {stop}}}}}"));
            }

            foreach (var registration in new[] { "{\"version\": 5}", "{\"version\": \"v1\", \"checkpoint\": \"../../etc/passwd\"}", "{\"version\": \"v1\", \"checkpoint\": \"tiny/v9/none.safetensors\"}",
                "{\"version\": \"v1\\n\", \"checkpoint\": \"tiny/v1/model.safetensors\"}", "{\"version\": \"v1\", \"stage\": 99}", "{\"version\": \"v1\", \"metrics\": {\"loss\": \"NaN\"}}", "{\"percent\": 150}" })
            {
                yield return (path, Encoding.UTF8.GetBytes(registration));
            }

            foreach (var messages in new[] { "null", "[]", "[{}]", "[{\"role\": \"wizard\", \"content\": \"x\"}]", "[{\"role\": \"user\", \"content\": 5}]", "[{\"role\": \"user\"}]", "\"user\"", "[null]", "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\", \"\\udc00\": 0}]}]" })
            {
                yield return (path, Encoding.UTF8.GetBytes($"{{\"model\": \"tiny\", \"messages\": {messages}, \"prompt\": {messages}}}"));
            }
        }
    }

    private static async Task ExpectStatusAsync(Func<Task> call, string input, List<string> failures, params StatusCode[] allowed)
    {
        try
        {
            await call();
            failures.Add($"OK for {Truncate(input)}");
        }
        catch (RpcException error) when (!allowed.Contains(error.StatusCode))
        {
            failures.Add($"{error.StatusCode} ({Truncate(error.Status.Detail)}) for {Truncate(input)}");
        }
        catch (RpcException)
        {
        }
    }

    private async Task AssertAValidCompletionSucceedsAsync(HttpClient http)
    {
        using var response = await http.PostAsync("/v1/completions", new StringContent("{\"model\": \"tiny\", \"prompt\": \"ok\", \"max_tokens\": 2}", Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"a valid completion failed after hostile input: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.False(cluster.Inference.HasExited || cluster.Gateway.HasExited || cluster.Registry.HasExited, "a process died");
    }

    private static string Describe(byte[] body) => body.Length > 400 || !System.Text.Unicode.Utf8.IsValid(body) ? $"({body.Length} bytes)" : Encoding.UTF8.GetString(body);

    private static string ErrorsIn(string log) =>
        string.Join(Environment.NewLine, log.Split(Environment.NewLine).Where(line => line.Contains("Exception", StringComparison.Ordinal) || line.Contains("fail:", StringComparison.Ordinal) || line.Contains("at MsSwift", StringComparison.Ordinal)).Take(60));

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "..." : text;
}
