using System.Net;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MsSwift.Contracts;
using MsSwift.ServiceDefaults.Kafka;
using MsSwift.Testing;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>
/// The product's topics made sure of at start, against the real dev broker (librdkafka's mock:
/// it has the product's topics and no CreateTopics API, so a topic it lacks cannot be created).
/// </summary>
public sealed class KafkaTopicProvisionerTests : IAsyncLifetime
{
    private const string Absent = "msswift.test.absent";
    private KafkaDevBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await KafkaDevBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_service_whose_topics_all_exist_is_ready_once_started()
    {
        var (app, _) = Build(extraTopics: []);
        await using var _ = app;
        await app.StartAsync();

        var report = await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Healthy, report.Entries["kafka-topics"].Status);
        Assert.Equal($"{KafkaTopics.All.Count} topic(s) exist", report.Entries["kafka-topics"].Description);
    }

    [Fact]
    public async Task A_topic_that_cannot_be_created_keeps_the_service_unready_naming_it_and_why_until_it_exists()
    {
        var (app, httpPort) = Build(extraTopics: [Absent]);
        await using var _ = app;
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        var health = app.Services.GetRequiredService<HealthCheckService>();

        var readiness = await http.GetAsync("/healthz");
        var liveness = await http.GetAsync("/alive");
        var entry = (await health.CheckHealthAsync()).Entries["kafka-topics"];
        // Someone creates it (here the mock's auto-creation on produce): the retries notice.
        await app.Services.GetRequiredService<KafkaProducer>().ProduceAsync(Absent, "k", [1]);
        var recovered = await Poll.UntilAsync(
            async () => (await health.CheckHealthAsync()).Entries["kafka-topics"].Status == HealthStatus.Healthy, TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness.StatusCode);
        Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.StartsWith($"topics missing on the broker and not created: {Absent} (", entry.Description);
        Assert.Contains("grant this client CreateTopics or create them", entry.Description);
        Assert.True(recovered, "the provisioner never saw the topic appear");
    }

    [Fact]
    public async Task With_creation_off_a_missing_topic_is_reported_naming_the_setting()
    {
        var (app, _) = Build(extraTopics: [Absent], createTopics: false);
        await using var _ = app;
        await app.StartAsync();

        var entry = (await app.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["kafka-topics"];

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal($"topics missing on the broker: {Absent}; Kafka:CreateTopics is false, so create them (Strimzi KafkaTopic, kafka-topics.sh)", entry.Description);
    }

    /// <summary>A service host with AddKafka whose topics are the product's and <paramref name="extraTopics"/>.</summary>
    private (WebApplication App, int HttpPort) Build(IReadOnlyList<string> extraTopics, bool createTopics = true)
    {
        var (app, httpPort, _) = ServiceHost.Build(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = _broker.BootstrapServers,
            ["Kafka:HealthCheckTimeoutMs"] = "1000",
            ["Kafka:CreateTopics"] = createTopics ? "true" : "false",
        }, builder =>
        {
            builder.AddKafka();
            IReadOnlyList<string> topics = [.. KafkaTopics.All, .. extraTopics];
            builder.Services.AddSingleton(services => ActivatorUtilities.CreateInstance<KafkaTopicProvisioner>(services, topics));
        });
        return (app, httpPort);
    }
}
