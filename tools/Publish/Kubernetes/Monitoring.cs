using k8s.Models;
using MsSwift.Publish.Crds;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// Prometheus scrapes every service's management port (a ServiceMonitor per service, each
/// series labelled with the service's name), and every service exports traces, metrics and logs
/// over OTLP to the configured collector.
/// </summary>
public sealed class Monitoring(Cluster cluster)
{
    /// <summary>The label each series carries with the service's name (from the Service's <c>app.kubernetes.io/name</c>).</summary>
    public const string ServiceLabel = "app_kubernetes_io_name";

    public IEnumerable<ServiceMonitor> ServiceMonitors() => cluster.Projects.Select(project => new ServiceMonitor
    {
        Metadata = new V1ObjectMeta { Name = project, Labels = Cluster.Labels(project, cluster.ComponentOf(project)) },
        Spec = new ServiceMonitorSpec
        {
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string>(Cluster.Selector(project)) { [Cluster.MetricsLabel] = "true" } },
            TargetLabels = [Cluster.NameLabel],
            Endpoints = [new ServiceMonitorEndpoint { Port = Cluster.ManagementBinding, Path = "/metrics", Interval = cluster.Settings.Observability.ScrapeInterval }],
        },
    });

    public V1ConfigMap Telemetry() => new()
    {
        ApiVersion = "v1",
        Kind = "ConfigMap",
        Metadata = new V1ObjectMeta { Name = Cluster.TelemetryConfigMap, Labels = new Dictionary<string, string> { [Cluster.PartOfLabel] = Cluster.PartOf } },
        Data = new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = cluster.Settings.Observability.OtlpEndpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = cluster.Settings.Observability.OtlpProtocol,
        },
    };
}
