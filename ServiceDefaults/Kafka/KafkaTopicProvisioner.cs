using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MsSwift.ServiceDefaults.Kafka;

/// <summary>
/// Makes sure the product's topics exist before the service produces or subscribes: a real Kafka
/// usually has auto-creation off (Strimzi, managed clusters, the container mode's broker), and a
/// consumer subscribed to a missing topic only notices its creation at its next metadata refresh.
/// At start, before the hosted services registered after it (the consumers), it lists the
/// broker's topics and creates the missing ones with <c>CreateTopics</c> (partitions and
/// replication from <see cref="KafkaOptions"/>); a topic that already exists, or that another
/// replica created first, counts as done. Until every topic exists it retries with backoff and
/// reports the registration's failure status, naming the missing topics and why creating them
/// failed (no permission, a broker without the API such as the dev broker, a policy).
/// </summary>
internal sealed partial class KafkaTopicProvisioner(
    KafkaProducer producer, IOptions<KafkaOptions> options, IReadOnlyList<string> topics, TimeProvider timeProvider, ILogger<KafkaTopicProvisioner> logger)
    : BackgroundService, IHealthCheck
{
    private static readonly Backoff Retry = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

    private volatile string? _problem = "not checked yet";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // One attempt before the consumers start, so they subscribe to topics that exist.
        await EnsureAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_problem is { } problem
            ? new HealthCheckResult(context.Registration.FailureStatus, problem)
            : HealthCheckResult.Healthy($"{topics.Count} topic(s) exist"));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; _problem is not null && await Retry.WaitAsync(attempt, timeProvider, stoppingToken); attempt++)
        {
            await EnsureAsync(stoppingToken);
        }
    }

    /// <summary>One pass: list, create what is missing, list again. Sets <see cref="_problem"/> (null once every topic exists).</summary>
    private async Task EnsureAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var timeout = TimeSpan.FromMilliseconds(settings.HealthCheckTimeoutMs);
        using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
        try
        {
            var absent = await MissingAsync(admin, timeout, cancellationToken);
            if (absent.Count == 0)
            {
                Ready();
                return;
            }

            if (!settings.CreateTopics)
            {
                Problem($"topics missing on the broker: {string.Join(", ", absent)}; {KafkaOptions.SectionName}:{nameof(KafkaOptions.CreateTopics)} is false, so create them (Strimzi KafkaTopic, kafka-topics.sh)");
                return;
            }

            var failures = await CreateAsync(admin, absent, settings, timeout);
            var missing = await MissingAsync(admin, timeout, cancellationToken);
            if (missing.Count == 0)
            {
                var created = string.Join(", ", absent);
                LogCreated(logger, created);
                Ready();
                return;
            }

            var reasons = missing.Select(topic => failures.TryGetValue(topic, out var reason) ? $"{topic} ({reason})" : topic);
            Problem($"topics missing on the broker and not created: {string.Join(", ", reasons)}; grant this client CreateTopics or create them (Strimzi KafkaTopic, kafka-topics.sh)");
        }
        catch (KafkaException error)
        {
            Problem($"could not check the topics on {settings.BootstrapServers}: {error.Error.Reason}");
        }
    }

    private async Task<List<string>> MissingAsync(IAdminClient admin, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // GetMetadata blocks; keep it off the caller's thread.
        var existing = await Task.Run(() => admin.GetMetadata(timeout).Topics
            .Where(topic => topic.Error.Code == ErrorCode.NoError)
            .Select(topic => topic.Topic)
            .ToHashSet(StringComparer.Ordinal), cancellationToken);
        return topics.Where(topic => !existing.Contains(topic)).ToList();
    }

    /// <summary>Creates <paramref name="missing"/>; returns why each topic that was not created failed (already existing is not a failure).</summary>
    private static async Task<Dictionary<string, string>> CreateAsync(IAdminClient admin, List<string> missing, KafkaOptions settings, TimeSpan timeout)
    {
        var specifications = missing.Select(topic => new TopicSpecification
        {
            Name = topic,
            NumPartitions = settings.TopicPartitions,
            ReplicationFactor = (short)settings.TopicReplicationFactor,
        }).ToList();
        try
        {
            await admin.CreateTopicsAsync(specifications, new CreateTopicsOptions { RequestTimeout = timeout, OperationTimeout = timeout });
            return [];
        }
        catch (CreateTopicsException error)
        {
            return error.Results
                .Where(result => result.Error.Code is not (ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
                .ToDictionary(result => result.Topic, result => result.Error.Reason, StringComparer.Ordinal);
        }
        catch (KafkaException error)
        {
            // The whole request failed (the dev broker has no CreateTopics: it times out waiting for a controller).
            return missing.ToDictionary(topic => topic, _ => error.Error.Reason, StringComparer.Ordinal);
        }
    }

    private void Ready()
    {
        if (_problem is not null)
        {
            LogReady(logger, topics.Count);
        }

        _problem = null;
    }

    private void Problem(string problem)
    {
        if (problem != _problem)
        {
            LogProblem(logger, problem);
        }

        _problem = problem;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Kafka topics {Topics} were missing and now exist")]
    private static partial void LogCreated(ILogger logger, string topics);

    [LoggerMessage(Level = LogLevel.Information, Message = "All {Count} Kafka topics exist")]
    private static partial void LogReady(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Kafka topics are not ready: {Problem}; retrying with backoff")]
    private static partial void LogProblem(ILogger logger, string problem);
}
