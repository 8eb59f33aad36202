using k8s.Models;
using MsSwift.Contracts;
using MsSwift.Publish.Crds;

namespace MsSwift.Deploy.Tests;

/// <summary>Inference scales on load, on metrics it really exports, and on the async path's consumer lag.</summary>
public sealed class AutoscalingTests
{
    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Inference_scales_on_requests_per_second_queue_depth_cpu_and_consumer_lag_and_has_a_disruption_budget(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);
        var scaled = Assert.Single(rendered.Of<ScaledObject>());
        var inference = rendered.Deployment("inference");

        Assert.Equal("inference", scaled.Spec.ScaleTargetRef.Name);
        // KEDA owns the count: a fixed one in the Deployment would be reset on every apply.
        Assert.Null(inference.Spec.Replicas);
        Assert.Equal(overlay == "dev" ? 1 : Rendered.Settings.InferenceAutoscaling.MinReplicas, scaled.Spec.MinReplicaCount);
        Assert.Equal(["cpu", "kafka", "prometheus", "prometheus"], scaled.Spec.Triggers.Select(trigger => trigger.Type).Order());
        Assert.Single(rendered.Of<V1PodDisruptionBudget>(), budget => budget.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == "inference");
        // The cpu trigger needs a cpu request to take a utilization of.
        Assert.True(inference.Spec.Template.Spec.Containers[0].Resources.Requests.ContainsKey("cpu"));

        var kafka = Assert.Single(scaled.Spec.Triggers, trigger => trigger.Type == "kafka");
        Assert.Equal(KafkaTopics.InferenceRequests, kafka.Metadata["topic"]);
        Assert.Equal(KafkaTopics.InferenceConsumerGroup, kafka.Metadata["consumerGroup"]);
        var bootstrap = rendered.Of<Kafka>().Single().Metadata.Name + "-kafka-bootstrap:9092";
        Assert.Equal(bootstrap, kafka.Metadata["bootstrapServers"]);
        // More replicas than partitions would consume nothing.
        var requests = Assert.Single(rendered.Of<KafkaTopic>(), topic => topic.Spec.TopicName == KafkaTopics.InferenceRequests);
        Assert.True(scaled.Spec.MaxReplicaCount <= requests.Spec.Partitions);
    }

    [Fact]
    public async Task The_load_triggers_query_only_metrics_the_inference_service_exports()
    {
        var rendered = await Rendered.OverlayAsync("gpu");
        var exported = await ExportedMetrics.SeriesAsync();

        var queries = rendered.Of<ScaledObject>().Single().Spec.Triggers.Where(trigger => trigger.Type == "prometheus").Select(trigger => trigger.Metadata["query"]).ToList();

        Assert.Equal(2, queries.Count);
        Assert.All(queries, query =>
        {
            var names = ExportedMetrics.NamesIn(query);
            Assert.NotEmpty(names);
            Assert.All(names, name => Assert.True(exported.Contains(name), $"'{query}' reads {name}, which no service exports"));
        });
        Assert.Contains(queries, query => query.Contains("msswift_inference_requests_total", StringComparison.Ordinal));
        Assert.Contains(queries, query => query.Contains("msswift_inference_requests_pending", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("msswift_inference_num_requests_running")]
    [InlineData("msswift_inference_num_requests_waiting")]
    [InlineData("msswift_inference_kv_cache_usage_perc")]
    [InlineData("msswift_inference_batch_size")]
    public async Task The_schedulers_gauges_are_exported_under_vllms_names_for_the_autoscaler(string name)
    {
        var exported = await ExportedMetrics.SeriesAsync();

        Assert.Contains(name, exported);
    }

    [Fact]
    public async Task Every_product_topic_is_a_kafka_topic_of_the_strimzi_cluster_in_kraft_mode()
    {
        var rendered = await Rendered.OverlayAsync("dev");
        var cluster = Assert.Single(rendered.Of<Kafka>());
        var pool = Assert.Single(rendered.Of<KafkaNodePool>());

        Assert.Equal("enabled", cluster.Metadata.Annotations["strimzi.io/kraft"]);
        Assert.Equal(["broker", "controller"], pool.Spec.Roles.Order());
        Assert.Equal(cluster.Metadata.Name, pool.Metadata.Labels[Strimzi.ClusterLabel]);
        Assert.Equal(KafkaTopics.All.Order(), rendered.Of<KafkaTopic>().Select(topic => topic.Spec.TopicName).Order());
        Assert.All(rendered.Of<KafkaTopic>(), topic =>
        {
            Assert.Equal(cluster.Metadata.Name, topic.Metadata.Labels[Strimzi.ClusterLabel]);
            // The dev overlay has one broker: a topic cannot have more replicas than brokers.
            Assert.Equal(pool.Spec.Replicas, topic.Spec.Replicas);
        });
    }
}
