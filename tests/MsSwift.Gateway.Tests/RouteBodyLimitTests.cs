using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MsSwift.Testing.Services;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// A route's own body limit at the real gateway (its shipped configuration: 4 MiB for every route,
/// 1 GiB for <c>/datasets</c>), in front of a real data service and a real registry.
/// </summary>
public sealed class RouteBodyLimitTests : IAsyncLifetime
{
    private const int SixMiB = 6 * 1024 * 1024;
    private const long DatasetsLimit = 1L << 30;
    private ServiceInfrastructure _infrastructure = null!;
    private DataServer _data = null!;
    private RegistryServer _registry = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _infrastructure = await ServiceInfrastructure.StartAsync();
        _data = await DataServer.StartReadyAsync(_infrastructure, []);
        _registry = await RegistryServer.StartReadyAsync(_infrastructure);
        _gateway = await GatewayServer.StartReadyAsync(_infrastructure, [], _registry, [GatewayCluster.AdminKey],
            new Dictionary<string, string?> { ["services__data__http__0"] = _data.HttpAddress.ToString() });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _registry.DisposeAsync();
        await _data.DisposeAsync();
        await _infrastructure.DisposeAsync();
    }

    [Fact]
    public async Task A_streamed_6_MiB_dataset_upload_passes_the_gateway_and_is_ingested_by_the_data_service()
    {
        using var http = Http();
        var documents = Enumerable.Range(0, SixMiB / 100 + 1).Select(i => $"document {i:D8} {new string((char)('a' + i % 26), 80)}").ToList();
        using var upload = new StreamedContent(Encoding.UTF8.GetBytes(string.Join("\n\n", documents)));

        using var created = await http.PostAsync("/datasets/large?format=text", upload);
        var body = await created.Content.ReadAsStringAsync();

        Assert.True(upload.Length > SixMiB, $"{upload.Length} bytes");
        Assert.Null(upload.Headers.ContentLength);
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"{(int)created.StatusCode} {body}");
        Assert.Equal(documents.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), JsonDocument.Parse(body).RootElement.GetProperty("documents").GetString());
    }

    [Fact]
    public async Task A_6_MiB_body_to_another_route_still_gets_413_declared_or_streamed()
    {
        using var http = Http();
        var body = Encoding.UTF8.GetBytes($"{{\"checkpoint\": \"{new string('c', SixMiB)}\"}}");

        using var declared = await http.SendAsync(Post("/registry/models/big/versions", new ByteArrayContent(body)));
        using var streamed = await http.PostAsync("/registry/models/big/versions", new StreamedContent(body));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Contains("the gateway's limit of 4194304 bytes", await DetailAsync(declared));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Contains("exceeds the gateway's limit", await DetailAsync(streamed));
    }

    [Fact]
    public async Task A_dataset_upload_declaring_more_than_the_routes_own_limit_gets_413_before_any_of_it_is_sent()
    {
        using var http = Http();
        var tooLarge = new DeclaredOnlyContent(DatasetsLimit + 1);

        using var refused = await http.SendAsync(Post("/datasets/huge", tooLarge));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Contains($"exceeds the gateway's limit of {DatasetsLimit} bytes", await DetailAsync(refused));
        Assert.False(tooLarge.Sent, "the body was sent although the declared length was refused");
    }

    [Fact]
    public async Task A_route_limit_that_is_not_a_positive_whole_number_stops_the_gateway_at_start_naming_the_key()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayServer.StartReadyAsync(_infrastructure, [], _registry, [GatewayCluster.AdminKey],
            new Dictionary<string, string?> { ["ReverseProxy__Routes__datasets-http__Metadata__MaxRequestBodyBytes"] = "1GiB" }));

        Assert.Contains("ReverseProxy:Routes:datasets-http:Metadata:MaxRequestBodyBytes must be a positive whole number of bytes, got '1GiB'", refused.Message);
    }

    private HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = _gateway.HttpAddress, Timeout = TimeSpan.FromSeconds(120) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", GatewayCluster.AdminKey.Key);
        return http;
    }

    /// <summary>A POST that waits for <c>100 Continue</c>, so a body refused on its declared length is never sent.</summary>
    private static HttpRequestMessage Post(string path, HttpContent content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.ExpectContinue = true;
        return request;
    }

    private static async Task<string?> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString();

    /// <summary>A body of unknown length: sent chunked, with no Content-Length for the gateway to check up front.</summary>
    private sealed class StreamedContent(byte[] bytes) : HttpContent
    {
        public long Length => bytes.Length;

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            try
            {
                for (var offset = 0; offset < bytes.Length; offset += 64 * 1024)
                {
                    await stream.WriteAsync(bytes.AsMemory(offset, Math.Min(64 * 1024, bytes.Length - offset)));
                }
            }
            catch (IOException)
            {
                // The gateway answers 413 once the body passes the limit and closes the connection;
                // stop sending, so the client reads that answer (no answer still fails the test).
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Declares <paramref name="length"/> bytes; notes it if it is ever asked for them (it then sends none).</summary>
    private sealed class DeclaredOnlyContent(long length) : HttpContent
    {
        public bool Sent { get; private set; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            Sent = true;
            throw new IOException("the test never sends this body");
        }

        protected override bool TryComputeLength(out long declared)
        {
            declared = length;
            return true;
        }
    }
}
