using System.Collections.Concurrent;
using System.Collections.Specialized;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using MsSwift.Testing;
using MsSwift.Testing.Services;

namespace MsSwift.Gateway.Tests;

/// <summary>What a forwarded request carries to the backend: the caller's trace under the gateway's own span, the caller's name, no key, no X-Forwarded-*.</summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class TraceContextTests(GatewayCluster cluster)
{
    [Fact]
    public async Task A_forwarded_request_continues_the_callers_trace_under_the_gateways_span_and_carries_no_key_and_no_forwarded_headers()
    {
        // A second gateway whose data service is a recorder of the requests it receives.
        using var backend = new RecordingBackend();
        await using var gateway = await GatewayServer.StartReadyAsync(cluster.Infrastructure, [cluster.Inference], cluster.Registry, [GatewayCluster.AdminKey],
            new Dictionary<string, string?> { ["services__data__http__0"] = backend.Address.ToString() });
        using var http = new HttpClient { BaseAddress = gateway.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var callerSpan = ActivitySpanId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/datasets/traced");
        request.Headers.Authorization = new("Bearer", GatewayCluster.AdminKey.Key);
        request.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");

        using var response = await http.SendAsync(request);
        var received = Assert.Single(backend.Received, headers => headers["x-test-path"] == "/datasets/traced");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceparent = received["traceparent"]?.Split('-');
        Assert.NotNull(traceparent);
        // Same trace; the parent is a span the gateway made, not the caller's.
        Assert.Equal(traceId, traceparent[1]);
        Assert.NotEqual(callerSpan, traceparent[2]);
        Assert.Null(received["authorization"]);
        Assert.Equal(GatewayCluster.AdminKey.Name, received["x-msswift-caller"]);
        Assert.Equal(response.Headers.GetValues("x-request-id").Single(), received["x-request-id"]);
        Assert.DoesNotContain(received.AllKeys, name => name!.StartsWith("x-forwarded-", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>An HTTP server on a free loopback port that answers 200 to everything and keeps each request's headers.</summary>
    private sealed class RecordingBackend : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<NameValueCollection> _received = new();

        public RecordingBackend()
        {
            var port = FreeTcpPort.Next();
            Address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
            _listener.Prefixes.Add(Address.ToString());
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public Uri Address { get; }

        public IReadOnlyCollection<NameValueCollection> Received => _received;

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception error) when (error is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                var headers = new NameValueCollection(context.Request.Headers) { ["x-test-path"] = context.Request.Url?.AbsolutePath };
                _received.Enqueue(headers);
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        }
    }
}
