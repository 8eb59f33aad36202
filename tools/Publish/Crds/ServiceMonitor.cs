using k8s.Models;

namespace MsSwift.Publish.Crds;

/// <summary>The Prometheus Operator's <c>ServiceMonitor</c> (monitoring.coreos.com/v1): which Services Prometheus scrapes, on which port.</summary>
public sealed class ServiceMonitor() : CustomResource<ServiceMonitorSpec>(Version, nameof(ServiceMonitor))
{
    public const string Version = "monitoring.coreos.com/v1";
}

public sealed class ServiceMonitorSpec
{
    public V1LabelSelector Selector { get; set; } = new();

    /// <summary>Service labels copied onto every series, so queries can name the service.</summary>
    public List<string>? TargetLabels { get; set; }

    public List<ServiceMonitorEndpoint> Endpoints { get; set; } = [];
}

public sealed class ServiceMonitorEndpoint
{
    public string Port { get; set; } = "";

    public string Path { get; set; } = "/metrics";

    public string Interval { get; set; } = "15s";
}
