using System.Diagnostics;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Extensions;
using MsSwift.Inference.Grpc;
using MsSwift.Inference.Serving;
using MsSwift.Testing;
using OpenTelemetry.Trace;

namespace MsSwift.Inference.Tests;

/// <summary>
/// The generation span, read with OpenTelemetry's in-memory exporter from the real inference
/// service hosted in this process (its own wiring, real Redis and broker, a Predict over a socket).
/// </summary>
[Collection(InProcessTracingGroup.Name)]
public sealed class GenerationTracingTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private ServiceInfrastructure _infrastructure = null!;

    public async Task InitializeAsync()
    {
        _infrastructure = await ServiceInfrastructure.StartAsync();
        await InferenceServer.WriteCheckpointsAsync(_infrastructure.CheckpointDirectory);
    }

    public async Task DisposeAsync() => await _infrastructure.DisposeAsync();

    [Fact]
    public async Task A_predict_makes_one_generation_span_under_its_request_with_the_GenAI_attributes()
    {
        var spans = new List<Activity>();
        var (app, httpPort, grpcPort) = Host(spans);
        PredictResponse response;
        Activity caller;
        await using (app)
        {
            await app.StartAsync().WaitAsync(Timeout);
            await WaitUntilReadyAsync(httpPort);

            // The caller's request span, as the gateway's is: the call carries its sampled trace context.
            using var callerSource = new ActivitySource("MsSwift.Tests");
            caller = callerSource.StartActivity("POST /msswift.v1.ModelService/Predict", ActivityKind.Server)!;
            using (caller)
            {
                using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
                response = await new ModelService.ModelServiceClient(channel).PredictAsync(new PredictRequest
                {
                    InputData = ByteString.CopyFromUtf8("Hello, model"),
                    Parameters = new GenerationParameters { MaxNewTokens = 7, Temperature = 0 },
                }, deadline: DateTime.UtcNow + Timeout);
            }

            // Stopping waits for the call to end and flushes the exporter; only then is the list complete.
            await app.StopAsync().WaitAsync(Timeout);
        }

        var generation = Assert.Single(spans, span => span.Source.Name == GenerationTelemetry.ActivitySourceName);
        var request = Assert.Single(spans, span => span.SpanId == generation.ParentSpanId);
        Assert.Equal(caller.TraceId, generation.TraceId);
        Assert.Equal(ActivityKind.Server, request.Kind);
        Assert.Equal("/msswift.v1.ModelService/Predict", request.GetTagItem("url.path"));
        Assert.Equal(ActivityKind.Internal, generation.Kind);
        Assert.Equal("text_completion tiny", generation.DisplayName);
        Assert.Equal(ActivityStatusCode.Unset, generation.Status);
        Assert.Equal("text_completion", generation.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("msswift", generation.GetTagItem("gen_ai.provider.name"));
        Assert.Equal("tiny", generation.GetTagItem("gen_ai.request.model"));
        Assert.Equal($"{response.Model}:{response.ModelVersion}", generation.GetTagItem("gen_ai.response.model"));
        Assert.Equal(7, generation.GetTagItem("gen_ai.request.max_tokens"));
        Assert.Equal(0.0, generation.GetTagItem("gen_ai.request.temperature"));
        Assert.Equal(response.Usage.PromptTokens, generation.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal(response.Usage.CompletionTokens, generation.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(new[] { response.FinishReason }, generation.GetTagItem("gen_ai.response.finish_reasons"));
        Assert.IsType<double>(generation.GetTagItem("msswift.queue_time_ms"));
        Assert.IsType<double>(generation.GetTagItem("msswift.time_to_first_token_ms"));
        Assert.Equal(["msswift.admitted", "msswift.first_token"], generation.Events.Select(item => item.Name));
        Assert.InRange(generation.Events.Last().Timestamp.UtcDateTime, generation.StartTimeUtc, generation.StartTimeUtc + generation.Duration);
    }

    /// <summary>The inference service as its <c>Program.cs</c> builds it, on two loopback ports, exporting spans to <paramref name="spans"/>.</summary>
    private (WebApplication App, int HttpPort, int GrpcPort) Host(List<Activity> spans)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        var settings = InferenceServer.ServiceEnvironment(_infrastructure, new Dictionary<string, string>());
        builder.Configuration.AddInMemoryCollection(settings.Select(setting => KeyValuePair.Create(setting.Key.Replace("__", ":", StringComparison.Ordinal), setting.Value)));
        var httpPort = FreeTcpPort.Next();
        var grpcPort = FreeTcpPort.Next();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenLocalhost(httpPort, listen => listen.Protocols = HttpProtocols.Http1);
            kestrel.ListenLocalhost(grpcPort, listen => listen.Protocols = HttpProtocols.Http2);
        });
        builder.AddServiceDefaults();
        builder.AddApplicationServices();
        builder.Services.AddGrpc();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGrpcService<ModelServiceImpl>();
        return (app, httpPort, grpcPort);
    }

    private static async Task WaitUntilReadyAsync(int httpPort)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        var ready = await Poll.UntilAsync(async () => (await http.GetAsync("/healthz")).IsSuccessStatusCode, Timeout);
        Assert.True(ready, "the in-process inference service never became ready");
    }
}

/// <summary>
/// Tests that host a service in this process and read its spans run alone: activity listeners are
/// process-wide (another test's clients would be traced too), and the host runs TorchSharp here.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessTracingGroup
{
    public const string Name = "In-process tracing";
}
