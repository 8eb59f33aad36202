namespace MsSwift.AppHost;

/// <summary>
/// Inference as <c>Inference:Replicas</c> processes. Each replica is a resource of its own
/// (<c>inference</c>, <c>inference-2</c>, ...) rather than one resource with replicas, because the
/// gateway balances requests itself (power of two choices on outstanding requests, health checks,
/// retry on a replica that cannot be reached) and so must see every replica's address: an
/// orchestrator's proxy in front of them would hide them behind one.
/// </summary>
internal static class InferenceReplicas
{
    public const string Name = "inference";

    private static readonly string[] Endpoints = [ServiceResources.HttpEndpoint, ServiceResources.GrpcEndpoint];

    public static IReadOnlyList<IResourceBuilder<ProjectResource>> AddInferenceReplicas(
        this IDistributedApplicationBuilder builder, int count, Func<IResourceBuilder<ProjectResource>, IResourceBuilder<ProjectResource>> configure) =>
        [.. Enumerable.Range(1, count).Select(replica => configure(builder.AddService<Projects.MsSwift_Inference>(replica == 1 ? Name : $"{Name}-{replica}")))];

    /// <summary>
    /// Every replica under the one service-discovery name <c>inference</c> (<c>services__inference__http__0</c>,
    /// <c>__1</c>, ...), which the gateway's YARP clusters resolve to one destination per replica.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithInferenceReplicas(
        this IResourceBuilder<ProjectResource> gateway, IReadOnlyList<IResourceBuilder<ProjectResource>> replicas)
    {
        gateway.WithReference(replicas[0]);
        for (var replica = 1; replica < replicas.Count; replica++)
        {
            foreach (var endpoint in Endpoints)
            {
                gateway.WithEnvironment($"services__{Name}__{endpoint}__{replica}", replicas[replica].GetEndpoint(endpoint));
            }
        }

        return gateway;
    }
}
