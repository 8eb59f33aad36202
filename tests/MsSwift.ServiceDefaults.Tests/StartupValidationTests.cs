using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>Bad configuration stops a service at start, naming the key, before anything listens.</summary>
public sealed class StartupValidationTests
{
    [Fact]
    public async Task Missing_kafka_connection_string_stops_the_service_before_it_listens()
    {
        var (app, httpPort, _) = ServiceHost.Build(new Dictionary<string, string?>(), builder => builder.AddKafka());
        await using var _ = app;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("ConnectionStrings:kafka is missing", error.Message);
        await AssertNothingListensOn(httpPort);
    }

    [Fact]
    public async Task Invalid_kafka_option_stops_the_service_naming_the_key()
    {
        var (app, httpPort, _) = ServiceHost.Build(
            new Dictionary<string, string?>
            {
                ["ConnectionStrings:kafka"] = "localhost:9092",
                ["Kafka:SessionTimeoutMs"] = "10",
            },
            builder => builder.AddKafka());
        await using var _ = app;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Equal("Kafka:SessionTimeoutMs must be between 1000 and 300000, got 10", error.Message);
        await AssertNothingListensOn(httpPort);
    }

    [Fact]
    public async Task Missing_redis_connection_string_stops_the_service_naming_the_key()
    {
        var (app, httpPort, _) = ServiceHost.Build(new Dictionary<string, string?>(), builder => builder.AddRedis());
        await using var _ = app;

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.StartsWith("ConnectionStrings:redis is missing", error.Message);
        await AssertNothingListensOn(httpPort);
    }

    [Fact]
    public void A_TraceBackgroundWork_that_is_not_a_boolean_stops_the_service_naming_the_key()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            ServiceHost.Build(new Dictionary<string, string?> { [Extensions.TraceBackgroundWorkKey] = "sometimes" }));

        Assert.Contains("Telemetry:TraceBackgroundWork", error.Message);
    }

    private static async Task AssertNothingListensOn(int port)
    {
        using var client = new TcpClient();
        var error = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }
}
