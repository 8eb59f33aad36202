using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using MsSwift.Contracts.Data.V1;
using MsSwift.Testing.Services;
using Xunit.Abstractions;

namespace MsSwift.Data.Tests;

/// <summary>The real data service process: ingest over HTTP, batches over gRPC, with real Redis and storage.</summary>
public sealed partial class DataServiceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _allowed = Directory.CreateTempSubdirectory("msswift-allowed-").FullName;
    private ServiceInfrastructure _infrastructure = null!;
    private DataServer _server = null!;

    public async Task InitializeAsync()
    {
        _infrastructure = await ServiceInfrastructure.StartAsync();
        _server = await DataServer.StartReadyAsync(_infrastructure, [_allowed]);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _infrastructure.DisposeAsync();
        Directory.Delete(_allowed, recursive: true);
    }

    [Fact]
    public async Task An_uploaded_jsonl_dataset_reports_its_malformed_records_and_serves_disjoint_shards()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        var lines = Enumerable.Range(0, 300).Select(i => JsonSerializer.Serialize(new { text = $"record {i}: {Convert.ToHexString(SHA256.HashData(BitConverter.GetBytes(i)))}" }))
            .Append("{broken").Append("""{"text": 5}""");

        var created = await http.PostAsync("/datasets/corpus?format=jsonl&validation_percent=10", new StringContent(string.Join('\n', lines), Encoding.UTF8, "application/x-ndjson"));
        var report = await created.Content.ReadFromJsonAsync<JsonElement>();
        var info = await _server.Client.GetDatasetAsync(new GetDatasetRequest { Name = "corpus" });
        var shards = await Task.WhenAll(Enumerable.Range(0, 2).Select(shard => BatchesAsync(new BatchRequest
        {
            Name = "corpus", Shard = shard, ShardCount = 2, BatchSize = 4, Window = 32,
        })));
        var stepThree = await BatchesAsync(new BatchRequest { Name = "corpus", Shard = 1, ShardCount = 2, BatchSize = 4, Window = 32, FirstBatch = 3, MaxBatches = 2 });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("300", report.GetProperty("documents").GetString());
        Assert.Equal("2", report.GetProperty("malformed").GetString());
        Assert.Equal(info.Version, report.GetProperty("version").GetString());
        var rows = shards.Select(batches => batches.SelectMany(Rows).ToList()).ToList();
        Assert.Equal((info.TrainTokens - 1) / 32, rows.Sum(shard => shard.Count));
        Assert.Empty(rows[0].Select(row => string.Join(',', row)).Intersect(rows[1].Select(row => string.Join(',', row))));
        Assert.All(rows.SelectMany(shard => shard), row => Assert.Equal(33, row.Length));
        // A job's step can fetch its own batches of the shard's fixed windows.
        Assert.Equal(rows[1].Skip(12).Take(8).Select(row => string.Join(',', row)), stepThree.SelectMany(Rows).Select(row => string.Join(',', row)));
    }

    [Fact]
    public async Task Paths_off_the_allow_list_unknown_datasets_and_bad_parameters_are_refused()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        var allowedFile = Path.Combine(_allowed, "books.txt");
        await File.WriteAllTextAsync(allowedFile, "one book\n\nanother book\n");

        var fromAllowed = await http.PostAsJsonAsync("/datasets/books/from-path", new { path = allowedFile });
        var outside = await http.PostAsJsonAsync("/datasets/books/from-path", new { path = "/etc/passwd" });
        var escaping = await http.PostAsJsonAsync("/datasets/books/from-path", new { path = Path.Combine(_allowed, "..", "x.txt") });
        var badFormat = await http.PostAsync("/datasets/books?format=csv&tokenizer=klingon", new StringContent("x"));
        var unknown = await Assert.ThrowsAsync<RpcException>(() => BatchesAsync(new BatchRequest { Name = "nothing", ShardCount = 1, BatchSize = 1, Window = 8 }));
        var badShard = await Assert.ThrowsAsync<RpcException>(() => BatchesAsync(new BatchRequest { Name = "books", Shard = 2, ShardCount = 2, BatchSize = 1, Window = 8 }));
        var firstWithoutMax = await Assert.ThrowsAsync<RpcException>(() => BatchesAsync(new BatchRequest { Name = "books", ShardCount = 1, BatchSize = 1, Window = 8, FirstBatch = 4 }));

        Assert.Equal(HttpStatusCode.Created, fromAllowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, outside.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, escaping.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badFormat.StatusCode);
        var problem = await badFormat.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("format", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("tokenizer", out _));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, badShard.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, firstWithoutMax.StatusCode);
        Assert.Contains("first_batch needs max_batches", firstWithoutMax.Status.Detail);
    }

    [Fact]
    public async Task A_symbolic_link_inside_an_allowed_directory_that_leads_outside_is_refused()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        var outside = Directory.CreateTempSubdirectory("msswift-outside-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(outside, "secret.txt"), "not for datasets\n");
            await File.WriteAllTextAsync(Path.Combine(_allowed, "inside.txt"), "a book inside\n");
            File.CreateSymbolicLink(Path.Combine(_allowed, "passwd.txt"), "/etc/passwd");
            File.CreateSymbolicLink(Path.Combine(_allowed, "relative.txt"), Path.Combine("..", Path.GetFileName(outside), "secret.txt"));
            Directory.CreateSymbolicLink(Path.Combine(_allowed, "elsewhere"), outside);
            File.CreateSymbolicLink(Path.Combine(_allowed, "alias.txt"), Path.Combine(_allowed, "inside.txt"));

            var fileLink = await http.PostAsJsonAsync("/datasets/links/from-path", new { path = Path.Combine(_allowed, "passwd.txt") });
            var relativeLink = await http.PostAsJsonAsync("/datasets/links/from-path", new { path = Path.Combine(_allowed, "relative.txt") });
            var directoryLink = await http.PostAsJsonAsync("/datasets/links/from-path", new { path = Path.Combine(_allowed, "elsewhere", "secret.txt") });
            var linkWithin = await http.PostAsJsonAsync("/datasets/links/from-path", new { path = Path.Combine(_allowed, "alias.txt") });

            Assert.Equal(HttpStatusCode.Forbidden, fileLink.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, relativeLink.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, directoryLink.StatusCode);
            Assert.Equal("application/problem+json", directoryLink.Content.Headers.ContentType?.MediaType);
            // A link that stays inside the allowed directory is fine.
            Assert.Equal(HttpStatusCode.Created, linkWithin.StatusCode);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"path": null}""")]
    [InlineData("""{"path": ""}""")]
    [InlineData("""{"path": 5}""")]
    [InlineData("{broken")]
    [InlineData("")]
    [InlineData("null")]
    public async Task A_from_path_body_without_a_path_gets_400_naming_the_field_and_the_service_stays_up(string body)
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        var allowedFile = Path.Combine(_allowed, "ok.txt");
        await File.WriteAllTextAsync(allowedFile, "a fine book\n");

        var refused = await http.PostAsync("/datasets/nopath/from-path", new StringContent(body, Encoding.UTF8, "application/json"));
        var next = await http.PostAsJsonAsync("/datasets/nopath/from-path", new { path = allowedFile });

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("path", out _), problem.ToString());
        Assert.Equal(HttpStatusCode.Created, next.StatusCode);
    }

    private async Task<List<TokenBatchMessage>> BatchesAsync(BatchRequest request)
    {
        using var call = _server.Client.StreamBatches(request);
        return await call.ResponseStream.ReadAllAsync().ToListAsync();
    }

    private static IEnumerable<int[]> Rows(TokenBatchMessage batch) =>
        Enumerable.Range(0, batch.Rows).Select(row => batch.Tokens.Skip(row * batch.Columns).Take(batch.Columns).ToArray());
}
