using MsSwift.ServiceDefaults.Kafka;

namespace MsSwift.ServiceDefaults.Tests;

public sealed class KafkaOptionsValidatorTests
{
    private static readonly KafkaOptionsValidator Validator = new();

    [Fact]
    public void Valid_settings_pass()
    {
        var result = Validator.Validate(null, new KafkaOptions { BootstrapServers = "broker-1:9092,broker-2:9092" });

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("", "ConnectionStrings:kafka is missing")]
    [InlineData("localhost", "ConnectionStrings:kafka must be a comma-separated host:port list")]
    [InlineData("localhost:0", "ConnectionStrings:kafka must be a comma-separated host:port list")]
    [InlineData("a:9092,b", "ConnectionStrings:kafka must be a comma-separated host:port list")]
    public void Bad_bootstrap_servers_name_the_connection_string_key(string bootstrap, string expected)
    {
        var result = Validator.Validate(null, new KafkaOptions { BootstrapServers = bootstrap });

        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage);
    }

    [Fact]
    public void Out_of_range_values_name_their_keys_and_the_allowed_range()
    {
        var result = Validator.Validate(null, new KafkaOptions
        {
            BootstrapServers = "localhost:9092",
            SessionTimeoutMs = 5,
            MessageTimeoutMs = 0,
            HealthCheckTimeoutMs = 1_000_000,
            TopicPartitions = 0,
            TopicReplicationFactor = 0,
        });

        Assert.True(result.Failed);
        Assert.Contains("Kafka:SessionTimeoutMs must be between 1000 and 300000, got 5", result.FailureMessage);
        Assert.Contains("Kafka:MessageTimeoutMs must be between 1000 and 900000, got 0", result.FailureMessage);
        Assert.Contains("Kafka:HealthCheckTimeoutMs must be between 100 and 60000, got 1000000", result.FailureMessage);
        Assert.Contains("Kafka:TopicPartitions must be between 1 and 10000, got 0", result.FailureMessage);
        Assert.Contains("Kafka:TopicReplicationFactor must be -1 (the broker's default) or between 1 and 32, got 0", result.FailureMessage);
    }
}
