using System.Diagnostics;
using Grpc.Health.V1;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>
/// Which traces a service makes: a real host with <c>AddServiceDefaults</c> and OpenTelemetry's
/// in-memory exporter, whose own background loop calls it over HTTP and gRPC as health probes, the
/// gateway's canary refresh and training's recovery polling do, standing in for an idle minute.
/// </summary>
[Collection(TracingGroup.Name)]
public sealed class BackgroundWorkTracingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Background_work_makes_no_trace_while_a_request_is_traced_from_its_server_span_down()
    {
        var spans = new List<Activity>();
        var (app, httpPort) = Host(spans, new Dictionary<string, string?>());
        await using (app)
        {
            await app.StartAsync();
            await app.Services.GetRequiredService<ProbeLoop>().Finished.WaitAsync(Timeout);

            using var caller = OutsideCaller(httpPort);
            var answer = await caller.GetStringAsync("/work").WaitAsync(Timeout);
            Assert.Equal("Serving", answer);
            // Stopping waits for the request to end and flushes the exporter; only then is the list complete.
            await app.StopAsync().WaitAsync(Timeout);
        }

        var request = Assert.Single(spans, span => span.ParentSpanId == default);
        Assert.Equal(ActivityKind.Server, request.Kind);
        Assert.Equal("/work", request.GetTagItem("url.path"));
        // Everything exported belongs to that request: nothing of the loop's rounds of calls.
        Assert.All(spans, span => Assert.Equal(request.TraceId, span.TraceId));
        Assert.Contains(spans, span => span.Kind == ActivityKind.Client && span.ParentSpanId == request.SpanId);
    }

    [Fact]
    public async Task With_TraceBackgroundWork_on_the_loops_calls_are_traced_again()
    {
        var spans = new List<Activity>();
        var (app, _) = Host(spans, new Dictionary<string, string?> { [Extensions.TraceBackgroundWorkKey] = "true" });
        await using (app)
        {
            await app.StartAsync();
            await app.Services.GetRequiredService<ProbeLoop>().Finished.WaitAsync(Timeout);
            await app.StopAsync().WaitAsync(Timeout);
        }

        var roots = spans.Where(span => span.ParentSpanId == default).ToList();
        // Each round makes two root client calls: the HTTP one to /work and the gRPC health check.
        Assert.True(roots.Count(root => root.Kind == ActivityKind.Client) >= 2 * ProbeLoop.Rounds, $"{roots.Count} roots: {string.Join(", ", roots.Select(root => root.DisplayName))}");
        // And the request that the loop's HTTP call made is traced under it, across the socket.
        Assert.Contains(spans, span => span.Kind == ActivityKind.Server && "/work".Equals(span.GetTagItem("url.path")) && roots.Any(root => root.SpanId == span.ParentSpanId));
    }

    private static (WebApplication App, int HttpPort) Host(List<Activity> spans, Dictionary<string, string?> settings)
    {
        var (app, httpPort, _) = ServiceHost.Build(settings, (builder, httpPort, grpcPort) =>
        {
            builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
            builder.Services.AddServiceGrpcClient<Health.HealthClient>($"http://127.0.0.1:{grpcPort}");
            builder.Services.Configure<ProbeLoopOptions>(options => options.WorkAddress = new Uri($"http://127.0.0.1:{httpPort}/work"));
            builder.Services.AddSingleton<ProbeLoop>();
            builder.Services.AddHostedService(services => services.GetRequiredService<ProbeLoop>());
            builder.Services.AddSingleton<WorkEndpoint>();
        });
        // A request whose handling calls another service (here, its own gRPC health service).
        app.MapGet("/work", (WorkEndpoint work, CancellationToken cancellationToken) => work.HandleAsync(cancellationToken));
        return (app, httpPort);
    }

    /// <summary>
    /// A client outside the service, with no trace context of its own. It runs in this process, so
    /// the host's tracer sees its client span too; sending no <c>traceparent</c> makes the request
    /// arrive as a user's would, with no parent.
    /// </summary>
    private static HttpClient OutsideCaller(int httpPort) =>
        new(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };

    private sealed class WorkEndpoint(Health.HealthClient health)
    {
        public async Task<string> HandleAsync(CancellationToken cancellationToken) =>
            (await health.CheckAsync(new HealthCheckRequest(), cancellationToken: cancellationToken)).Status.ToString();
    }

    private sealed class ProbeLoopOptions
    {
        public Uri WorkAddress { get; set; } = null!;
    }

    /// <summary>
    /// A service's own periodic work: a fixed number of rounds, each an HTTP call (through the
    /// shared HttpClient defaults) and a gRPC call, on a timer, as the product's loops are.
    /// </summary>
    private sealed class ProbeLoop(
        IHttpClientFactory httpClients, Health.HealthClient health, IOptions<ProbeLoopOptions> options, IHostApplicationLifetime lifetime) : BackgroundService
    {
        public const int Rounds = 10;

        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Finished => _finished.Task;

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                await WhenStartedAsync(stoppingToken);
                using var http = httpClients.CreateClient();
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
                for (var round = 0; round < Rounds && await timer.WaitForNextTickAsync(stoppingToken); round++)
                {
                    (await http.GetAsync(options.Value.WorkAddress, stoppingToken)).EnsureSuccessStatusCode();
                    await health.CheckAsync(new HealthCheckRequest(), cancellationToken: stoppingToken);
                }

                _finished.TrySetResult();
            }
            catch (Exception error)
            {
                _finished.TrySetException(error);
            }
        }

        private Task WhenStartedAsync(CancellationToken stoppingToken)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lifetime.ApplicationStarted.Register(() => started.TrySetResult());
            return started.Task.WaitAsync(stoppingToken);
        }
    }
}

/// <summary>
/// Tests that read spans run alone: activity listeners are process-wide, so a host's exporter
/// would also see the spans of other tests' clients and servers running beside it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TracingGroup
{
    public const string Name = "Tracing";
}
