namespace MsSwift.Contracts;

/// <summary>The product's Kafka topics: part of the contract between services and of the broker set-up.</summary>
public static class KafkaTopics
{
    /// <summary>Asynchronous predict requests, keyed by request id.</summary>
    public const string InferenceRequests = "msswift.inference.requests";

    /// <summary>Results of asynchronous predict requests, keyed by request id.</summary>
    public const string InferenceResults = "msswift.inference.results";

    /// <summary>Requests that could not be parsed, with the reason in a header.</summary>
    public const string InferenceDeadLetters = "msswift.inference.dlq";

    /// <summary>Model lifecycle events from the registry (register, promote, canary, roll back).</summary>
    public const string ModelEvents = "msswift.model.events";

    /// <summary>Training job lifecycle events.</summary>
    public const string TrainingEvents = "msswift.training.events";

    /// <summary>The consumer group of inference's asynchronous path (its lag is what the autoscaler reads).</summary>
    public const string InferenceConsumerGroup = "inference";

    /// <summary>Every topic the product uses: the dev broker has them from its start, and every service that uses Kafka creates the missing ones at start (brokers with auto-creation off have none).</summary>
    public static IReadOnlyList<string> All { get; } =
        [InferenceRequests, InferenceResults, InferenceDeadLetters, ModelEvents, TrainingEvents];
}
