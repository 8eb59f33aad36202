using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Contracts.V1;
using MsSwift.Testing;
using MsSwift.Testing.Services;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// How the gateway keeps its canary table: against a registry whose full model list no gRPC client
/// can receive, and against a registry it cannot reach at all. Each test runs a gateway of its own
/// in front of the cluster's inference.
/// </summary>
[Collection(GatewayClusterGroup.Name)]
public sealed partial class CanaryRefreshTests(GatewayCluster cluster)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_canary_gets_traffic_even_when_the_registrys_model_list_exceeds_grpcs_message_limit()
    {
        // A registry of its own (own Redis and broker, so its events never reach the cluster's
        // inference) on the cluster's checkpoints, holding ~6 MB of records: ListModels is past 4 MB.
        await using var infrastructure = await ServiceInfrastructure.StartAsync();
        await using var registry = await RegistryServer.StartReadyAsync(infrastructure,
            new Dictionary<string, string?> { ["Registry__CheckpointDirectory"] = cluster.Infrastructure.CheckpointDirectory });
        for (var i = 0; i < 6; i++)
        {
            await registry.Admin.RegisterVersionAsync(WithMegabyteOfMetrics($"bulk-{i}"));
        }

        foreach (var version in new[] { "v1", "v2" })
        {
            await registry.Admin.RegisterVersionAsync(new RegisterVersionRequest { Model = "tiny", Version = version, Checkpoint = $"tiny/{version}/model.safetensors" });
        }

        await registry.Admin.PromoteAsync(new ChangeVersionRequest { Model = "tiny", Version = "v1" });
        await registry.Admin.SetCanaryAsync(new SetCanaryRequest { Model = "tiny", Version = "v2", Percent = 50 });
        var wholeList = await Assert.ThrowsAsync<RpcException>(() => registry.Reader.ListModelsAsync(new ListModelsRequest()).ResponseAsync);

        await using var gateway = await GatewayServer.StartReadyAsync(infrastructure, [cluster.Inference], registry, [GatewayCluster.UserKey]);
        var models = new ModelService.ModelServiceClient(gateway.Channel);
        using var management = new HttpClient { BaseAddress = gateway.ManagementAddress };
        // The gateway's own count of requests it pinned to the canary (which version inference then
        // serves depends on what it has loaded, which other tests change).
        var pinnedToCanary = await Poll.UntilAsync(async () =>
        {
            await models.PredictAsync(FrontDoorTests.Request("canary"), GatewayCluster.Credentials(GatewayCluster.UserKey));
            return CanaryRouted().Match(await management.GetStringAsync("/metrics")) is { Success: true } count ? long.Parse(count.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }, count => count > 0, Timeout, TimeSpan.FromMilliseconds(50));

        // The premise: the whole list is more than a client receives.
        Assert.Equal(StatusCode.ResourceExhausted, wholeList.StatusCode);
        Assert.True(pinnedToCanary > 0, $"no request was pinned to the canary; the gateway said:{Environment.NewLine}{gateway.Output}");
        Assert.DoesNotContain("Could not read canaries", gateway.Output);
    }

    [Fact]
    public async Task A_registry_that_cannot_be_reached_is_retried_with_growing_waits_and_each_failure_logged()
    {
        var nothingListens = $"http://127.0.0.1:{FreeTcpPort.Next().ToString(CultureInfo.InvariantCulture)}";
        await using var gateway = await GatewayServer.StartReadyAsync(cluster.Infrastructure, [cluster.Inference], cluster.Registry, [GatewayCluster.UserKey],
            new Dictionary<string, string?> { ["services__registry__grpc__0"] = nothingListens });

        var waits = await Poll.UntilAsync(() => Task.FromResult(NextAttemptWaits(gateway.Output)), waits => waits.Count >= 4, Timeout);

        // Refresh period 0.5 s in these tests: at most 1, 2, 4, 8 s after the first four failures in
        // a row, and at least half that (jitter), so never the 0.5 s a failing refresh used to repeat at.
        double[] ceilings = [1, 2, 4, 8];
        Assert.True(waits.Count >= 4, $"only {waits.Count} failed refreshes logged:{Environment.NewLine}{gateway.Output}");
        Assert.All(ceilings.Zip(waits), pair => Assert.InRange(pair.Second.TotalSeconds, pair.First / 2, pair.First));
        // Serving does not depend on it: the table stays as it was (empty) and requests flow.
        var answer = await new ModelService.ModelServiceClient(gateway.Channel).PredictAsync(FrontDoorTests.Request("still serving"), GatewayCluster.Credentials(GatewayCluster.UserKey));
        Assert.Equal("tiny", answer.Model);
    }

    /// <summary>One version whose metrics fill about a megabyte of the model's record.</summary>
    private static RegisterVersionRequest WithMegabyteOfMetrics(string model)
    {
        var request = new RegisterVersionRequest { Model = model, Version = "v1", Checkpoint = "tiny/v1/model.safetensors" };
        for (var i = 0; i < 20_000; i++)
        {
            request.Metrics[$"bulk-metric-{i.ToString("D6", CultureInfo.InvariantCulture)}-padded-to-forty-chars"] = i;
        }

        return request;
    }

    private static List<TimeSpan> NextAttemptWaits(string output) =>
        NextAttempt().Matches(output).Select(match => TimeSpan.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();

    [GeneratedRegex("""msswift_gateway_canary_routed_total\{[^}]*version="v2"[^}]*\} (\d+)""")]
    private static partial Regex CanaryRouted();

    [GeneratedRegex(@"Could not read canaries from the registry \(failure \d+ in a row: .*?\); keeping the last table, next attempt in (\S+)")]
    private static partial Regex NextAttempt();
}
