using System.Text.Json;
using k8s.Models;
using MsSwift.Publish.Crds;

namespace MsSwift.Deploy.Tests;

/// <summary>Prometheus scrapes every service, the dashboard reads only exported metrics, and traces go to the configured collector.</summary>
public sealed class ObservabilityTests
{
    [Fact]
    public async Task The_grafana_dashboard_queries_name_only_metrics_the_services_export()
    {
        var exported = await ExportedMetrics.SeriesAsync();
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Rendered.Root, "deploy", "k8s", "base", "grafana-dashboard.json")));

        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(panel => panel.GetProperty("targets").EnumerateArray())
            .Select(target => target.GetProperty("expr").GetString()!)
            .ToList();
        var titles = dashboard.RootElement.GetProperty("panels").EnumerateArray().Select(panel => panel.GetProperty("title").GetString()!).ToList();

        Assert.All(expressions, expression =>
        {
            var names = ExportedMetrics.NamesIn(expression);
            Assert.NotEmpty(names);
            Assert.All(names, name => Assert.True(exported.Contains(name), $"'{expression}' reads {name}, which no service exports"));
        });
        // What the dashboard must show.
        foreach (var shown in new[] { "requests per second", "latency percentiles", "time to first token", "batch size", "queue depth", "tokens per second", "Training: loss", "step time" })
        {
            Assert.Contains(titles, title => title.Contains(shown, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Every_service_has_a_service_monitor_on_its_management_port_and_exports_traces_to_the_configured_collector()
    {
        var rendered = await Rendered.OverlayAsync("gpu");
        var services = rendered.Of<V1Service>().ToList();

        foreach (var (project, _) in Rendered.Manifest.Projects)
        {
            var monitor = Assert.Single(rendered.Of<ServiceMonitor>(), monitor => monitor.Metadata.Name == project);
            var endpoint = Assert.Single(monitor.Spec.Endpoints);
            Assert.Equal("/metrics", endpoint.Path);
            // The monitor selects a Service that has the port it scrapes.
            var scraped = Assert.Single(services, service => monitor.Spec.Selector.MatchLabels.All(label => service.Metadata.Labels.TryGetValue(label.Key, out var value) && value == label.Value));
            Assert.Contains(scraped.Spec.Ports, port => port.Name == endpoint.Port);

            var container = rendered.Deployment(project).Spec.Template.Spec.Containers.Single();
            Assert.Contains(container.EnvFrom, source => source.ConfigMapRef?.Name == "msswift-telemetry");
        }

        var telemetry = Assert.Single(rendered.Of<V1ConfigMap>(), map => map.Metadata.Name == "msswift-telemetry");
        Assert.Equal(Rendered.Settings.Observability.OtlpEndpoint, telemetry.Data["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        // The dashboard ships as a ConfigMap Grafana's sidecar picks up.
        var dashboard = Assert.Single(rendered.Of<V1ConfigMap>(), map => map.Metadata.Labels?.ContainsKey("grafana_dashboard") == true);
        Assert.True(dashboard.Data.ContainsKey("grafana-dashboard.json"));
    }
}
