using System.Diagnostics;
using MsSwift.Contracts.Registry.V1;
using Xunit.Abstractions;

namespace MsSwift.Gateway.Tests;

/// <summary>
/// Inference replicas behind the gateway: load spreads across them, a rollout switches every one,
/// and a replica that stops or crashes under load costs no request the gateway could have retried.
/// </summary>
public sealed class ReplicaTests(ReplicaCluster cluster, ITestOutputHelper output) : IClassFixture<ReplicaCluster>
{
    private const int Clients = 16;
    private static readonly TimeSpan SwitchTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Load_spreads_across_both_replicas()
    {
        await using var set = await cluster.StartAsync(2);
        var before = await Task.WhenAll(set.Replicas.Select(ReplicaCluster.AnsweredAsync));

        await using (var load = new PredictLoad(set.Models, ReplicaCluster.Credentials, Clients))
        {
            await load.WaitForAnswersAsync(400);
            Assert.DoesNotContain(await load.StopAsync(), outcome => outcome.Failure is not null);
        }

        var after = await Task.WhenAll(set.Replicas.Select(ReplicaCluster.AnsweredAsync));
        var served = after.Zip(before, (a, b) => a - b).ToArray();
        output.WriteLine($"requests answered per replica: {string.Join(", ", served)}");
        // Power of two choices between two equal replicas: each gets about half; a fifth is far outside chance.
        Assert.All(served, count => Assert.True(count >= served.Sum() / 5, $"a replica answered {count} of {served.Sum()} requests"));
    }

    [Fact]
    public async Task A_rollout_switches_every_replica_and_no_request_sent_after_the_last_switch_gets_the_old_version()
    {
        await using var set = await cluster.StartAsync(2);
        await using var load = new PredictLoad(set.Models, ReplicaCluster.Credentials, 8);
        await load.WaitForAnswersAsync(32);

        await cluster.Registry.Admin.PromoteAsync(new ChangeVersionRequest { Model = "tiny", Version = "v2" });
        var allOnV2 = await EveryReplicaServesAsync(set, "v2", load);
        await load.WaitForAnswersAsync(32);
        var rollBack = load.Now;
        await cluster.Registry.Admin.RollBackAsync(new RollBackRequest { Model = "tiny" });
        var allOnV1 = await EveryReplicaServesAsync(set, "v1", load);
        await load.WaitForAnswersAsync(32);
        var outcomes = await load.StopAsync();

        var answers = outcomes.Where(outcome => outcome.Version is not null).ToList();
        output.WriteLine($"{answers.Count} answers; old and new answers mixed for {MixedWindow(answers, "v1", "v2", allOnV2).TotalMilliseconds:F0} ms after promote, "
            + $"{MixedWindow(answers, "v2", "v1", allOnV1).TotalMilliseconds:F0} ms after roll-back");
        Assert.DoesNotContain(outcomes, outcome => outcome.Failure is not null);
        Assert.All(answers, answer => Assert.True(answer.Version is "v1" or "v2", answer.Version));
        Assert.Contains(answers, answer => answer.Sent > allOnV2 && answer.Sent < rollBack);
        Assert.All(answers.Where(answer => answer.Sent > allOnV2 && answer.Sent < rollBack), answer => Assert.Equal("v2", answer.Version));
        Assert.All(answers.Where(answer => answer.Sent > allOnV1), answer => Assert.Equal("v1", answer.Version));
    }

    [Fact]
    public async Task A_replica_that_stops_drains_without_failing_a_request_and_one_that_crashes_fails_only_requests_it_was_running()
    {
        // Long enough for the gateway's half-second health checks to see the replica unready, and then some.
        var drain = TimeSpan.FromSeconds(6);
        await using var set = await cluster.StartAsync(3, new Dictionary<string, string> { ["Shutdown__DrainSeconds"] = drain.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await using var load = new PredictLoad(set.Models, ReplicaCluster.Credentials, Clients);
        await load.WaitForAnswersAsync(100);

        // SIGTERM: unready at once, serving on while the gateway takes it out of rotation, then gone.
        var stopping = set.Replicas[0];
        var stopped = stopping.StopAsync(drain + TimeSpan.FromSeconds(30));
        var leftRotationWhileAlive = false;
        while (!stopped.IsCompleted && !leftRotationWhileAlive)
        {
            var answered = await ReplicaCluster.AnsweredAsync(stopping);
            await Task.Delay(TimeSpan.FromSeconds(1));
            leftRotationWhileAlive = !stopped.IsCompleted && await ReplicaCluster.AnsweredAsync(stopping) == answered;
        }

        await stopped;
        await load.WaitForAnswersAsync(100);
        var failedBeforeCrash = load.Failures.Count();

        // SIGKILL: the requests it was running fail with it; every other one reaches the last replica.
        set.Replicas[1].Kill();
        await load.WaitForAnswersAsync(200);
        var outcomes = await load.StopAsync();
        var failedInCrash = outcomes.Where(outcome => outcome.Failure is not null).Skip(failedBeforeCrash).ToList();

        output.WriteLine($"{outcomes.Count} requests; {failedBeforeCrash} failed around the graceful stop, {failedInCrash.Count} around the crash: "
            + string.Join("; ", failedInCrash.Select(failure => failure.Failure).Distinct()));
        Assert.True(leftRotationWhileAlive, "the stopping replica went on getting requests until it exited");
        Assert.Equal(0, failedBeforeCrash);
        // Each client has one request in flight at most, so at most that many were on the crashed replica.
        Assert.InRange(failedInCrash.Count, 0, Clients);
    }

    /// <summary>Asks each replica directly until all answer <paramref name="version"/>; the time, on <paramref name="load"/>'s clock, when the last one did.</summary>
    private static async Task<TimeSpan> EveryReplicaServesAsync(ReplicaSet set, string version, PredictLoad load)
    {
        var deadline = Stopwatch.StartNew();
        foreach (var replica in set.Replicas)
        {
            while ((await replica.Client.PredictAsync(FrontDoorTests.Request("probe"))).ModelVersion != version)
            {
                Assert.True(deadline.Elapsed < SwitchTimeout, $"replica {replica.HttpAddress} never served {version}");
                await Task.Delay(20);
            }
        }

        return load.Now;
    }

    /// <summary>From the first answer of <paramref name="to"/> to the last of <paramref name="from"/> before <paramref name="allSwitched"/>, by send time.</summary>
    private static TimeSpan MixedWindow(IReadOnlyList<PredictOutcome> answers, string from, string to, TimeSpan allSwitched)
    {
        var firstNew = answers.Where(answer => answer.Version == to && answer.Sent < allSwitched).Select(answer => answer.Sent).DefaultIfEmpty(allSwitched).Min();
        var lastOld = answers.Where(answer => answer.Version == from && answer.Sent < allSwitched && answer.Sent > firstNew).Select(answer => answer.Sent).DefaultIfEmpty(firstNew).Max();
        return lastOld - firstNew;
    }
}
