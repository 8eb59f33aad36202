using k8s.Models;
using MsSwift.Contracts;
using MsSwift.Publish.Crds;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// Inference scales on load through one KEDA <c>ScaledObject</c> (KEDA runs the HPA): requests
/// per second and requests queued or generating per replica (Prometheus, on the metrics the
/// service exports), CPU, and the asynchronous path's consumer lag (KEDA's Kafka trigger).
/// The HPA takes the largest replica count any trigger asks for.
/// </summary>
public sealed class Autoscaling(Cluster cluster)
{
    public const string InferenceTarget = "inference";

    /// <summary>The PromQL of the two load triggers; their metric names are the exporter's names for <c>msswift.inference.requests</c> and <c>msswift.inference.requests.pending</c>.</summary>
    public string RequestsPerSecondQuery => $"sum(rate(msswift_inference_requests_total{{namespace=\"{cluster.Settings.Namespace}\"}}[1m]))";

    public string PendingRequestsQuery => $"sum(msswift_inference_requests_pending{{namespace=\"{cluster.Settings.Namespace}\"}})";

    public ScaledObject Inference()
    {
        var scaling = cluster.Settings.InferenceAutoscaling;
        if (scaling.MinReplicas < 1 || scaling.MinReplicas > scaling.MaxReplicas)
        {
            throw new InvalidDataException($"InferenceAutoscaling needs 1 <= MinReplicas <= MaxReplicas, got {scaling.MinReplicas} and {scaling.MaxReplicas}");
        }

        if (scaling.MaxReplicas > cluster.Settings.Kafka.Partitions)
        {
            throw new InvalidDataException($"InferenceAutoscaling.MaxReplicas ({scaling.MaxReplicas}) exceeds the request topic's partitions ({cluster.Settings.Kafka.Partitions}): the extra replicas would consume nothing");
        }

        var prometheus = cluster.Settings.Observability.PrometheusAddress;
        return new ScaledObject
        {
            Metadata = new V1ObjectMeta { Name = InferenceTarget, Labels = Cluster.Labels(InferenceTarget, "model") },
            Spec = new ScaledObjectSpec
            {
                ScaleTargetRef = new ScaleTargetRef { Name = InferenceTarget },
                MinReplicaCount = scaling.MinReplicas,
                MaxReplicaCount = scaling.MaxReplicas,
                PollingInterval = 15,
                CooldownPeriod = scaling.CooldownSeconds,
                Advanced = new ScaledObjectAdvanced
                {
                    HorizontalPodAutoscalerConfig = new HorizontalPodAutoscalerConfig
                    {
                        Behavior = new V2HorizontalPodAutoscalerBehavior
                        {
                            // Up at once (a model replica takes a while to load); down slowly, one at a time.
                            ScaleUp = new V2HPAScalingRules { StabilizationWindowSeconds = 0, Policies = [new V2HPAScalingPolicy { Type = "Pods", Value = 2, PeriodSeconds = 30 }] },
                            ScaleDown = new V2HPAScalingRules { StabilizationWindowSeconds = scaling.CooldownSeconds, Policies = [new V2HPAScalingPolicy { Type = "Pods", Value = 1, PeriodSeconds = 60 }] },
                        },
                    },
                },
                Triggers =
                [
                    new ScaleTrigger
                    {
                        Type = "prometheus",
                        Name = "requests-per-second",
                        MetricType = "AverageValue",
                        Metadata = new Dictionary<string, string> { ["serverAddress"] = prometheus, ["query"] = RequestsPerSecondQuery, ["threshold"] = Text(scaling.RequestsPerSecondPerReplica) },
                    },
                    new ScaleTrigger
                    {
                        Type = "prometheus",
                        Name = "pending-requests",
                        MetricType = "AverageValue",
                        Metadata = new Dictionary<string, string> { ["serverAddress"] = prometheus, ["query"] = PendingRequestsQuery, ["threshold"] = Text(scaling.PendingRequestsPerReplica) },
                    },
                    new ScaleTrigger
                    {
                        Type = "cpu",
                        MetricType = "Utilization",
                        Metadata = new Dictionary<string, string> { ["value"] = Text(scaling.CpuUtilizationPercent) },
                    },
                    new ScaleTrigger
                    {
                        Type = "kafka",
                        Name = "async-request-lag",
                        Metadata = new Dictionary<string, string>
                        {
                            ["bootstrapServers"] = cluster.KafkaBootstrap,
                            ["consumerGroup"] = KafkaTopics.InferenceConsumerGroup,
                            ["topic"] = KafkaTopics.InferenceRequests,
                            ["lagThreshold"] = Text(scaling.KafkaLagPerReplica),
                            // A group that has not committed yet reads from the oldest message, as the service does.
                            ["offsetResetPolicy"] = "earliest",
                        },
                    },
                ],
            },
        };
    }

    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
