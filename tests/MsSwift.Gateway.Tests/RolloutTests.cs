using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using MsSwift.Contracts.Registry.V1;
using Xunit.Abstractions;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// Model rollout as an operator does it, through the gateway: the registry changes a stage, its
/// event reaches inference over Kafka, and clients calling through the gateway see the change
/// without a single failed request.
/// </summary>
[Collection(GatewayClusterGroup.Name)]
public sealed class RolloutTests(GatewayCluster cluster, ITestOutputHelper output)
{
    private const int Clients = 8;
    private static readonly TimeSpan SwitchTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Promote_and_roll_back_under_load_switch_versions_with_zero_failed_requests()
    {
        var admin = new ModelRegistryAdmin.ModelRegistryAdminClient(cluster.GrpcChannel);
        using var adminHttp = cluster.Http(GatewayCluster.AdminKey);
        await using var load = Load();
        await load.WaitForAnswersAsync(Clients * 2);

        var promoted = await admin.PromoteAsync(new ChangeVersionRequest { Model = "tiny", Version = "v3" }, GatewayCluster.Credentials(GatewayCluster.AdminKey));
        var toV3 = await load.TimeUntilOnlyAsync("v3", SwitchTimeout);
        var rollBack = await adminHttp.PostAsync("/registry/models/tiny/rollback", null);
        var toV1 = await load.TimeUntilOnlyAsync("v1", SwitchTimeout);
        var outcomes = await load.StopAsync();
        var answers = outcomes.Where(outcome => outcome.Version is not null).Select(outcome => outcome.Version).ToList();
        var failures = outcomes.Where(outcome => outcome.Failure is not null).Select(outcome => outcome.Failure).ToList();

        output.WriteLine($"answers only from v3 {toV3.TotalSeconds:F2} s after promote, only from v1 {toV1.TotalSeconds:F2} s after roll-back; {answers.Count} answers, {failures.Count} failures");
        Assert.Equal("v3", promoted.ProductionVersion);
        Assert.Equal(HttpStatusCode.OK, rollBack.StatusCode);
        Assert.True(toV3 < SwitchTimeout, "answers never came only from v3");
        Assert.True(toV1 < SwitchTimeout, "answers never came only from v1 after the roll-back");
        Assert.Empty(failures);
        Assert.True(answers.Count(version => version == "v3") >= Clients, "too few answers from v3 to call it served");
    }

    [Fact]
    public async Task A_canary_gets_its_share_of_traffic_that_names_no_version_and_nothing_once_cleared()
    {
        using var admin = cluster.Http(GatewayCluster.AdminKey);
        var set = await admin.PutAsJsonAsync("/registry/models/tiny/canary", new { version = "v2", percent = 50 });
        try
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
            await using (var warmUp = Load())
            {
                // The gateway re-reads canaries every half second in these tests.
                Assert.True(await warmUp.TimeUntilAnyAsync("v2", SwitchTimeout) < SwitchTimeout, "the canary never got traffic");
            }

            var versions = await AnswersAsync(240, version: "");
            var pinned = await AnswersAsync(24, version: "v1");
            var share = versions.Count(version => version == "v2") / (double)versions.Count;

            output.WriteLine($"canary share {share:P1} of {versions.Count} requests (set: 50%)");
            // 240 draws at 50%: a share outside 30-70% is a > 6 sigma event.
            Assert.InRange(share, 0.30, 0.70);
            Assert.All(versions, version => Assert.True(version is "v1" or "v2", version));
            Assert.All(pinned, version => Assert.Equal("v1", version));
        }
        finally
        {
            var cleared = await admin.DeleteAsync("/registry/models/tiny/canary");
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        }

        await using var after = Load();
        Assert.True(await after.TimeUntilOnlyAsync("v1", SwitchTimeout) < SwitchTimeout, "traffic still reached the cleared canary");
    }

    private async Task<List<string>> AnswersAsync(int count, string version)
    {
        var answers = new ConcurrentBag<string>();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Clients }, async (_, cancellationToken) =>
        {
            var request = FrontDoorTests.Request("canary");
            request.ModelVersion = version;
            var response = await cluster.Models.PredictAsync(request, GatewayCluster.Credentials(GatewayCluster.UserKey), cancellationToken: cancellationToken);
            answers.Add(response.ModelVersion);
        });
        return [.. answers];
    }

    private PredictLoad Load() => new(cluster.Models, GatewayCluster.Credentials(GatewayCluster.LoadKey), Clients);
}
