using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Aspire.Hosting.ApplicationModel;
using Confluent.Kafka;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MsSwift.Contracts;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.ServiceDefaults.Kafka;
using MsSwift.ServiceDefaults.Redis;
using MsSwift.Testing;
using StackExchange.Redis;

namespace MsSwift.AppHost.Tests;

/// <summary>The real AppHost in local mode: real redis-server, real dev broker, every service.</summary>
[Collection(WholeAppGroup.Name)]
public sealed class WholeAppTests
{
    private static readonly string[] Resources = ["redis", "kafka", "registry", "data", "training", "worker", "inference", "gateway"];
    private static readonly string[] ServiceAssemblies = ["Registry", "Data", "Training", "Inference", "Gateway"];
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_local_cluster_starts_healthy_moves_kafka_messages_holds_redis_locks_and_leaves_no_process_behind()
    {
        using var startup = new CancellationTokenSource(StartupTimeout);
        // A Redis of its own: the repository's .data/redis belongs to `./build.sh run`.
        var redisData = Directory.CreateTempSubdirectory("msswift-whole-app-redis-").FullName;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MsSwift_AppHost>(
            ["Infrastructure:Mode=local", $"Gateway:HttpPort={FreeTcpPort.Next()}", $"Gateway:GrpcPort={FreeTcpPort.Next()}", $"Redis:DataDirectory={redisData}", "Cli:ConnectionFile="],
            startup.Token);
        var app = await builder.BuildAsync(startup.Token);
        ProcessTree started;
        try
        {
            await app.StartAsync(startup.Token);
            foreach (var resource in Resources)
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, startup.Token);
            }

            started = ProcessTree.OfAspireOrchestrator(Environment.ProcessId);
            AssertOnlyTheGatewayListensBeyondLoopback(started);

            var key = await AssertGatewayIsReady(app);
            await AssertEveryGatewayRouteReachesItsBackend(app, key);
            await AssertKafkaListsTopicsAndDeliversToAConsumerGroup(await app.GetConnectionStringAsync("kafka"));
            await AssertRedisLockExcludesASecondTaker(await app.GetConnectionStringAsync("redis"));
        }
        finally
        {
            await app.StopAsync().WaitAsync(StepTimeout);
            await app.DisposeAsync().AsTask().WaitAsync(StepTimeout);
            Directory.Delete(redisData, recursive: true);
        }

        Assert.Contains(started.Processes, process => process.Command.StartsWith("redis-server", StringComparison.Ordinal));
        Assert.Contains(started.Processes, process => process.Command.Contains("MsSwift.KafkaDevBroker.dll", StringComparison.Ordinal));
        Assert.Contains(started.Processes, process => process.Command.Contains("MsSwift.Gateway", StringComparison.Ordinal));
        var survivors = await Poll.UntilAsync(() => Task.FromResult(started.StillRunning()), survivors => survivors.Count == 0, TimeSpan.FromSeconds(30));
        Assert.True(survivors.Count == 0, $"processes left behind: {string.Join("; ", survivors)}");
    }

    /// <returns>The development API key.</returns>
    private static async Task<string> AssertGatewayIsReady(DistributedApplication app)
    {
        using var http = app.CreateHttpClient("gateway", "http");
        using var timeout = new CancellationTokenSource(StepTimeout);
        var key = await app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ParameterResource>()
            .Single(resource => resource.Name == "gateway-dev-key").GetValueAsync(timeout.Token);

        var readiness = await http.GetAsync("/healthz", timeout.Token);
        var anonymous = await http.GetAsync("/v1/models", timeout.Token);
        var publicMetrics = await http.GetAsync("/metrics", timeout.Token);
        using var management = app.CreateHttpClient("gateway", "management");
        var scraped = await management.GetAsync("/metrics", timeout.Token);
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        // Through YARP to inference, which serves the development demo model, and to the registry.
        var models = await http.GetStringAsync("/v1/models", timeout.Token);
        var registry = await http.GetAsync("/registry/models", timeout.Token);

        Assert.Equal(HttpStatusCode.OK, readiness.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        // Prometheus scrapes the gateway on its management port, which is not exposed; the public port has no /metrics.
        Assert.Equal(HttpStatusCode.NotFound, publicMetrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.Contains("\"id\":\"demo:v1\"", models);
        Assert.Equal(HttpStatusCode.OK, registry.StatusCode);
        return key!;
    }

    /// <summary>
    /// Each route the gateway documents, called once through the gateway with the all-scopes key.
    /// A request that is valid in shape but names nothing that exists is enough where a full one is
    /// costly: the backend's own 404 or 400 (its ProblemDetails title, or gRPC NotFound) proves the
    /// route reached it. A route without a backend answers 502/503 (gRPC Unavailable) instead.
    /// </summary>
    private static async Task AssertEveryGatewayRouteReachesItsBackend(DistributedApplication app, string key)
    {
        using var timeout = new CancellationTokenSource(StepTimeout);
        var token = timeout.Token;
        using var http = app.CreateHttpClient("gateway", "http");
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        using var channel = GrpcChannel.ForAddress(app.GetEndpoint("gateway", "grpc"));
        var call = new CallOptions(new Grpc.Core.Metadata { { "authorization", $"Bearer {key}" } }, cancellationToken: token);
        var models = new ModelService.ModelServiceClient(channel);
        var predict = new PredictRequest { InputData = ByteString.CopyFromUtf8("hi"), Parameters = new GenerationParameters { MaxNewTokens = 1 } };

        var answers = new Dictionary<string, string>
        {
            ["GET /v1/models"] = await Answer(http.GetAsync("/v1/models", token)),
            ["POST /v1/completions"] = await Answer(http.PostAsJsonAsync("/v1/completions", new { model = "demo", prompt = "hi", max_tokens = 1 }, token)),
            ["POST /v1/chat/completions"] = await Answer(http.PostAsJsonAsync("/v1/chat/completions",
                new { model = "demo", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 1 }, token)),
            ["GET /registry/models"] = await Answer(http.GetAsync("/registry/models", token)),
            ["POST /registry/.../promote"] = await Answer(http.PostAsync("/registry/models/whole-app-none/versions/v1/promote", null, token)),
            ["GET /training/..."] = await Answer(http.GetAsync("/training/jobs/job-000000000000", token)),
            ["POST /datasets/..."] = await Answer(http.PostAsync("/datasets/whole-app?format=csv", new StringContent("x"), token)),
            ["GET /datasets/..."] = await Answer(http.GetAsync("/datasets/whole-app-none", token)),
            ["POST /async/predict"] = await Answer(http.PostAsJsonAsync("/async/predict", new { prompt = "hi", parameters = new { max_new_tokens = 1 } }, token)),
            ["ModelService/Predict"] = await Answer(() => models.PredictAsync(predict, call).ResponseAsync),
            ["ModelService/PredictStream"] = await Answer(async () => await models.PredictStream(predict, call).ResponseStream.ReadAllAsync(token).CountAsync(token)),
            ["ModelService/Train"] = await Answer(async () => await models.Train(new TrainRequest { JobId = "job-000000000000" }, call).ResponseStream.ReadAllAsync(token).CountAsync(token)),
            ["ModelService/CancelTrain"] = await Answer(() => models.CancelTrainAsync(new CancelTrainRequest { JobId = "job-000000000000" }, call).ResponseAsync),
            ["ModelRegistry/ListModels"] = await Answer(() => new ModelRegistry.ModelRegistryClient(channel).ListModelsAsync(new ListModelsRequest(), call).ResponseAsync),
            ["ModelRegistryAdmin/Promote"] = await Answer(() => new ModelRegistryAdmin.ModelRegistryAdminClient(channel)
                .PromoteAsync(new ChangeVersionRequest { Model = "whole-app-none", Version = "v1" }, call).ResponseAsync),
        };

        var expected = new Dictionary<string, string>
        {
            ["GET /v1/models"] = "200",
            ["POST /v1/completions"] = "200",
            ["POST /v1/chat/completions"] = "200",
            ["GET /registry/models"] = "200",
            ["POST /registry/.../promote"] = "404 Not found",
            ["GET /training/..."] = "404 Unknown job",
            ["POST /datasets/..."] = "400 One or more validation errors occurred.",
            ["GET /datasets/..."] = "404 Unknown dataset",
            ["POST /async/predict"] = "202",
            ["ModelService/Predict"] = "OK",
            ["ModelService/PredictStream"] = "OK",
            ["ModelService/Train"] = "NotFound",
            ["ModelService/CancelTrain"] = "NotFound",
            ["ModelRegistry/ListModels"] = "OK",
            ["ModelRegistryAdmin/Promote"] = "NotFound",
        };
        var wrong = expected.Where(route => answers[route.Key] != route.Value).Select(route => $"{route.Key}: {answers[route.Key]} (expected {route.Value})");
        Assert.True(!wrong.Any(), string.Join(Environment.NewLine, wrong));
    }

    /// <summary>The status, and for an error the ProblemDetails title, which says who answered.</summary>
    private static async Task<string> Answer(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return response.Content.Headers.ContentType?.MediaType == "application/problem+json"
            ? $"{status} {(await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString()}"
            : status;
    }

    private static async Task<string> Answer(Func<Task> call)
    {
        try
        {
            await call();
            return nameof(StatusCode.OK);
        }
        catch (RpcException error)
        {
            return error.StatusCode.ToString();
        }
    }

    /// <summary>Local runs: every service but the gateway listens on loopback only, so none is reachable past the gateway's keys.</summary>
    private static void AssertOnlyTheGatewayListensBeyondLoopback(ProcessTree started)
    {
        var listeners = ServiceAssemblies.ToDictionary(
            service => service,
            service => started.Processes.Where(process => process.Command.Contains($"MsSwift.{service}", StringComparison.Ordinal))
                .SelectMany(process => ListeningSockets.Of(process.Pid)).ToList());

        foreach (var (service, sockets) in listeners.Where(entry => entry.Key != "Gateway"))
        {
            Assert.NotEmpty(sockets);
            Assert.All(sockets, socket => Assert.True(IPAddress.IsLoopback(socket.Address), $"{service} listens on {socket}"));
        }

        Assert.Contains(listeners["Gateway"], socket => socket.Address.Equals(IPAddress.Any) || socket.Address.Equals(IPAddress.IPv6Any));
    }

    private static async Task AssertKafkaListsTopicsAndDeliversToAConsumerGroup(string? bootstrap)
    {
        Assert.False(string.IsNullOrEmpty(bootstrap));
        var options = Options.Create(new KafkaOptions { BootstrapServers = bootstrap, ClientId = "whole-app-test", SessionTimeoutMs = 6000 });
        using var producer = new KafkaProducer(options, NullLogger<KafkaProducer>.Instance);
        using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
        var topics = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Select(topic => topic.Topic).ToList();
        Assert.All(KafkaTopics.All, topic => Assert.Contains(topic, topics));

        var key = Guid.NewGuid().ToString("N");
        using var activity = new ActivitySource("MsSwift.Tests").StartActivity("whole-app-test") ?? new Activity("whole-app-test").Start();
        var delivered = await producer.ProduceAsync(KafkaTopics.ModelEvents, key, Encoding.UTF8.GetBytes("{\"event\":\"test\"}")).WaitAsync(StepTimeout);

        using var consumer = new KafkaConsumerFactory(options, NullLoggerFactory.Instance).Create($"whole-app-{key}");
        consumer.Subscribe(KafkaTopics.ModelEvents);
        var received = await Task.Run(() => ConsumeUntil(consumer, result => result.Message.Key == key, StepTimeout));
        consumer.Commit(received);
        var committed = consumer.Committed([received.TopicPartition], TimeSpan.FromSeconds(10));
        consumer.Close();

        Assert.Equal(delivered.TopicPartitionOffset, received.TopicPartitionOffset);
        Assert.Equal("{\"event\":\"test\"}", Encoding.UTF8.GetString(received.Message.Value));
        Assert.True(received.Message.Headers.TryGetLastBytes("traceparent", out var traceparent));
        Assert.Contains(activity.TraceId.ToHexString(), Encoding.UTF8.GetString(traceparent));
        Assert.Equal(received.Offset.Value + 1, Assert.Single(committed).Offset.Value);
    }

    private static async Task AssertRedisLockExcludesASecondTaker(string? connectionString)
    {
        Assert.False(string.IsNullOrEmpty(connectionString));
        await using var first = await ConnectionMultiplexer.ConnectAsync(connectionString);
        await using var second = await ConnectionMultiplexer.ConnectAsync(connectionString);
        var firstTaker = new RedisLock(first, TimeProvider.System);
        var secondTaker = new RedisLock(second, TimeProvider.System);
        var resource = $"whole-app-{Guid.NewGuid():N}";

        var held = await firstTaker.TryAcquireAsync(resource, TimeSpan.FromSeconds(30));
        var refused = await secondTaker.TryAcquireAsync(resource, TimeSpan.FromSeconds(30));
        Assert.NotNull(held);
        await held.ReleaseAsync();
        var afterRelease = await secondTaker.TryAcquireAsync(resource, TimeSpan.FromSeconds(30));

        Assert.Null(refused);
        Assert.NotNull(afterRelease);
        Assert.True(afterRelease.FencingToken > held.FencingToken);
    }

    private static ConsumeResult<string, byte[]> ConsumeUntil(
        IConsumer<string, byte[]> consumer, Func<ConsumeResult<string, byte[]>, bool> match, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } result && match(result))
            {
                return result;
            }
        }

        throw new TimeoutException($"no matching message within {timeout}");
    }
}
