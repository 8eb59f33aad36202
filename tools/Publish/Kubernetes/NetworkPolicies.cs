using k8s.Models;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// Ingress rules: nothing reaches a pod of the product unless a rule lets it. The gateway's API
/// ports are open to all; every other service's API ports only to the services whose manifest
/// environment refers to it (the gateway, the workers that reach the parameter server, ...); the
/// management (metrics) ports only to the monitoring namespace. Kafka's brokers get theirs from
/// Strimzi (the listener's <c>networkPolicyPeers</c>).
/// </summary>
public sealed class NetworkPolicies(Cluster cluster)
{
    public IEnumerable<V1NetworkPolicy> All()
    {
        yield return Policy("default-deny-ingress", new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [Cluster.PartOfLabel] = Cluster.PartOf } }, []);

        foreach (var server in cluster.Projects.Concat(cluster.Containers.Where(container => !cluster.IsKafka(container))))
        {
            var ports = ApiPorts(server);
            if (cluster.IsPublic(server))
            {
                // No "from": any source, inside or outside the cluster.
                yield return Policy($"{server}-public", Selects(server), [new V1NetworkPolicyIngressRule { Ports = ports }]);
                continue;
            }

            var clients = cluster.ClientsOf(server);
            if (clients.Count > 0)
            {
                yield return Policy($"{server}-from-clients", Selects(server),
                [
                    new V1NetworkPolicyIngressRule
                    {
                        FromProperty = [.. clients.Select(client => new V1NetworkPolicyPeer { PodSelector = Selects(client) })],
                        Ports = ports,
                    },
                ]);
            }
        }

        yield return Policy("metrics-from-monitoring",
            new V1LabelSelector { MatchExpressions = [new V1LabelSelectorRequirement { Key = Cluster.NameLabel, OperatorProperty = "In", Values = cluster.Projects.ToList() }] },
            [
                new V1NetworkPolicyIngressRule
                {
                    FromProperty =
                    [
                        new V1NetworkPolicyPeer
                        {
                            NamespaceSelector = new V1LabelSelector
                            {
                                MatchLabels = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = cluster.Settings.Observability.MonitoringNamespace },
                            },
                        },
                    ],
                    Ports = [new V1NetworkPolicyPort { Port = Cluster.ManagementBinding, Protocol = "TCP" }],
                },
            ]);
    }

    private List<V1NetworkPolicyPort> ApiPorts(string server) =>
        cluster.Manifest[server].Endpoints
            .Where(binding => binding.Key != Cluster.ManagementBinding && (!cluster.IsPublic(server) || binding.Value.External))
            .Select(binding => new V1NetworkPolicyPort { Port = binding.Value.TargetPort, Protocol = "TCP" })
            .ToList();

    private static V1LabelSelector Selects(string name) => new() { MatchLabels = Cluster.Selector(name) };

    private static V1NetworkPolicy Policy(string name, V1LabelSelector pods, List<V1NetworkPolicyIngressRule> ingress) => new()
    {
        ApiVersion = "networking.k8s.io/v1",
        Kind = "NetworkPolicy",
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { [Cluster.PartOfLabel] = Cluster.PartOf } },
        Spec = new V1NetworkPolicySpec { PodSelector = pods, PolicyTypes = ["Ingress"], Ingress = ingress },
    };
}
