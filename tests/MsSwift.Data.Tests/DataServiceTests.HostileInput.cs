using System.Net.Http.Headers;
using System.Text;
using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Testing;

namespace MsSwift.Data.Tests;

// The data service's HTTP and gRPC endpoints fed hostile input: each gets a 4xx or a precise status, and it keeps serving.
public sealed partial class DataServiceTests
{
    [Fact]
    public async Task Hostile_requests_get_4xx_or_a_precise_status_and_a_valid_upload_still_works()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        var failures = new List<string>();
        var tried = 0;
        var bodies = HostileInputs.JunkBodies.Select(Encoding.UTF8.GetBytes)
            .Concat(HostileInputs.RandomBytes([1, 100, 3000], each: 3))
            .Append(HostileInputs.InvalidUtf8Json("path"))
            .Concat(HostileInputs.Numbers.Select(number => Encoding.UTF8.GetBytes($"{{\"path\": {number}}}")))
            .Concat(new[] { "/etc/passwd", "../../etc/passwd", "", "\u0000", new string('p', 5000) }.Select(path => Encoding.UTF8.GetBytes($"{{\"path\": \"{path}\"}}")))
            .ToList();
        foreach (var name in HostileInputs.Names.Prepend("corpus"))
        {
            foreach (var body in bodies)
            {
                tried += 2;
                await ExpectRefusedAsync(http, $"/datasets/{name}/from-path", body, "application/json", failures);
                await ExpectRefusedAsync(http, $"/datasets/{name}?format={Uri.EscapeDataString(Encoding.UTF8.GetString(body[..Math.Min(body.Length, 20)]))}", body, "application/x-ndjson", failures);
            }

            tried++;
            using var lookup = await http.GetAsync($"/datasets/{name}/v-nope");
            if ((int)lookup.StatusCode is < 400 or >= 500)
            {
                failures.Add($"{(int)lookup.StatusCode} for GET /datasets/{name}/v-nope");
            }
        }

        foreach (var bytes in HostileInputs.RandomBytes([1, 3, 16, 1000], each: 4))
        {
            tried += 2;
            await ExpectStatusAsync(() => HostileInputs.CallRawAsync(_server.Channel, "msswift.data.v1.DataService", "GetDataset", MethodType.Unary, bytes), "random GetDataset", failures);
            await ExpectStatusAsync(() => HostileInputs.CallRawAsync(_server.Channel, "msswift.data.v1.DataService", "StreamBatches", MethodType.ServerStreaming, bytes), "random StreamBatches", failures);
        }

        foreach (var request in HostileBatchRequests())
        {
            tried++;
            await ExpectStatusAsync(async () =>
            {
                using var call = _server.Client.StreamBatches(request, deadline: DateTime.UtcNow.AddSeconds(30));
                await foreach (var _ in call.ResponseStream.ReadAllAsync())
                {
                }
            }, request.ToString(), failures);
        }

        using var valid = await http.PostAsync("/datasets/after-the-storm?format=text", new StringContent("still serving\n", Encoding.UTF8, "text/plain"));
        Assert.True(valid.IsSuccessStatusCode, $"a valid upload failed after hostile input: {(int)valid.StatusCode} {await valid.Content.ReadAsStringAsync()}");
        Assert.False(_server.HasExited, "the data service died");
        output.WriteLine($"{tried} hostile data-service inputs tried, {failures.Count} answered outside 4xx or with an imprecise status");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));
    }

    private static IEnumerable<BatchRequest> HostileBatchRequests()
    {
        foreach (var value in new[] { int.MinValue, -1, 0, int.MaxValue })
        {
            yield return new BatchRequest { Name = "corpus", ShardCount = 1, BatchSize = value, Window = 8 };
            yield return new BatchRequest { Name = "corpus", ShardCount = 1, BatchSize = 2, Window = value };
            // window + 1 once wrapped past int.MaxValue, and a random draw then got a negative bound.
            yield return new BatchRequest { Name = "corpus", ShardCount = 1, BatchSize = 1, Window = value, RandomBatches = 1 };
            yield return new BatchRequest { Name = "corpus", Shard = value, ShardCount = 1, BatchSize = 2, Window = 8 };
            yield return new BatchRequest { Name = "corpus", ShardCount = value, BatchSize = 2, Window = 8 };
        }

        foreach (var name in HostileInputs.Names)
        {
            yield return new BatchRequest { Name = name, ShardCount = 1, BatchSize = 2, Window = 8 };
        }
    }

    private static async Task ExpectRefusedAsync(HttpClient http, string path, byte[] body, string contentType, List<string> failures)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await http.PostAsync(path, content);
        if ((int)response.StatusCode >= 500)
        {
            failures.Add($"{(int)response.StatusCode} for POST {path} ({body.Length} bytes): {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task ExpectStatusAsync(Func<Task> call, string input, List<string> failures)
    {
        try
        {
            await call();
        }
        catch (RpcException error) when (error.StatusCode is StatusCode.Unknown or StatusCode.Internal or StatusCode.Unavailable)
        {
            failures.Add($"{error.StatusCode} ({error.Status.Detail}) for {(input.Length > 150 ? input[..150] : input)}");
        }
        catch (RpcException)
        {
        }
    }
}
