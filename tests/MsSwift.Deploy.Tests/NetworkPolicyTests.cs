using k8s.Models;

namespace MsSwift.Deploy.Tests;

/// <summary>Only the gateway is public; every other port admits only the services that call it, and metrics only Prometheus.</summary>
public sealed class NetworkPolicyTests
{
    private const string NameLabel = "app.kubernetes.io/name";

    [Theory]
    [InlineData("dev")]
    [InlineData("gpu")]
    public async Task Network_policies_leave_only_the_gateway_public(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);
        var policies = rendered.Of<V1NetworkPolicy>().ToList();

        // Every pod of the product is under a deny-all ingress policy, so only the rules below admit anything.
        Assert.All(rendered.PodTemplates, workload => Assert.Contains(policies, policy =>
            policy.Spec.PolicyTypes.Contains("Ingress") && (policy.Spec.Ingress is null || policy.Spec.Ingress.Count == 0) && Selects(policy.Spec.PodSelector, workload.Template.Metadata.Labels)));

        var open = policies.Where(policy => (policy.Spec.Ingress ?? []).Any(rule => rule.FromProperty is null || rule.FromProperty.Count == 0 || rule.FromProperty.Any(peer => peer.IpBlock is not null))).ToList();
        var publicPods = rendered.PodTemplates.Where(workload => open.Any(policy => Selects(policy.Spec.PodSelector, workload.Template.Metadata.Labels))).Select(workload => workload.Name);
        Assert.Equal(["gateway"], publicPods);
        // And on its API ports only, not on its metrics port.
        var gatewayPorts = open.SelectMany(policy => policy.Spec.Ingress).SelectMany(rule => rule.Ports).Select(port => port.Port.Value).Order();
        Assert.Equal(["8080", "8081"], gatewayPorts);
    }

    [Theory]
    [InlineData("inference", new[] { "gateway" })]
    [InlineData("training", new[] { "gateway", "worker" })]
    [InlineData("registry", new[] { "gateway", "inference", "training" })]
    [InlineData("data", new[] { "gateway", "training", "worker" })]
    [InlineData("worker", new string[0])]
    [InlineData("redis", new[] { "data", "inference", "registry", "training", "worker" })]
    [InlineData("checkpoints", new[] { "data", "inference", "registry", "training" })]
    public async Task A_service_s_api_ports_admit_only_the_services_that_call_it(string service, string[] callers)
    {
        var rendered = await Rendered.OverlayAsync("dev");
        var labels = Assert.Single(rendered.PodTemplates, workload => workload.Name == service).Template.Metadata.Labels;

        var peers = rendered.Of<V1NetworkPolicy>()
            .Where(policy => Selects(policy.Spec.PodSelector, labels))
            .SelectMany(policy => policy.Spec.Ingress ?? [])
            .Where(rule => rule.Ports.All(port => port.Port.Value != "management"))
            .SelectMany(rule => rule.FromProperty)
            .ToList();

        Assert.All(peers, peer => Assert.Null(peer.NamespaceSelector));
        Assert.Equal(callers.Order(), peers.Select(peer => peer.PodSelector.MatchLabels[NameLabel]).Order());
    }

    [Fact]
    public async Task Metrics_ports_admit_only_the_monitoring_namespace()
    {
        var rendered = await Rendered.OverlayAsync("dev");

        var rules = rendered.Of<V1NetworkPolicy>().SelectMany(policy => policy.Spec.Ingress ?? []).Where(rule => rule.Ports.Any(port => port.Port.Value is "management" or "9090")).ToList();

        var rule = Assert.Single(rules);
        var peer = Assert.Single(rule.FromProperty);
        Assert.Null(peer.PodSelector);
        Assert.Equal(Rendered.Settings.Observability.MonitoringNamespace, peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
    }

    private static bool Selects(V1LabelSelector selector, IDictionary<string, string> labels) =>
        (selector.MatchLabels ?? new Dictionary<string, string>()).All(label => labels.TryGetValue(label.Key, out var value) && value == label.Value)
        && (selector.MatchExpressions ?? []).All(expression => expression.OperatorProperty switch
        {
            "In" => labels.TryGetValue(expression.Key, out var value) && expression.Values.Contains(value),
            "NotIn" => !labels.TryGetValue(expression.Key, out var value) || !expression.Values.Contains(value),
            "Exists" => labels.ContainsKey(expression.Key),
            "DoesNotExist" => !labels.ContainsKey(expression.Key),
            _ => throw new InvalidOperationException(expression.OperatorProperty),
        });
}
