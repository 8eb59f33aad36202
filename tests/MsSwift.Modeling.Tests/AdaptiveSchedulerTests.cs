using Microsoft.Extensions.Time.Testing;
using MsSwift.Modeling.Generation.Scheduling;

namespace MsSwift.Modeling.Tests;

/// <summary>
/// The scheduler's policy on a fake clock with known costs (a decode step of n rows takes
/// 1 ms + 0.2 ms per row, a prefill of k prompts 2 ms + 0.5 ms per prompt): the decisions, not
/// the speed. How fast the real engine runs under it is measured by <c>./build.sh bench scheduler</c>.
/// </summary>
public sealed class AdaptiveSchedulerTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static TimeSpan Decode(int rows, long positions) => TimeSpan.FromMilliseconds(1 + 0.2 * rows + 1e-5 * positions);

    private static TimeSpan Prefill(int prompts) => TimeSpan.FromMilliseconds(2 + 0.5 * prompts);

    [Fact]
    public void The_chosen_batch_follows_a_step_in_load_from_one_client_to_64_and_back()
    {
        var simulation = new SchedulerSimulation(64, LatencyTargets.None, Decode, Prefill);

        var alone = simulation.Run(clients: 1, Second);
        var burst = simulation.Run(clients: 64, 2 * Second);
        var aloneAgain = simulation.Run(clients: 1, Second);

        Assert.All(alone, chosen => Assert.Equal(1, chosen));
        Assert.True(Median(burst) >= 60, $"under 64 clients the batch was {Median(burst)} (median)");
        Assert.Equal(64, simulation.MostRunning);
        // Once the burst's last sequences have finished, the lone client runs alone again.
        Assert.All(aloneAgain.Skip(aloneAgain.Count / 2), chosen => Assert.Equal(1, chosen));
    }

    [Fact]
    public void An_idle_engine_admits_a_lone_request_at_once()
    {
        var scheduler = Warmed(out _);

        var decision = scheduler.Decide(new EngineLoad(0, 0, 1, TimeSpan.Zero, TimeSpan.Zero, Arrivals: 1));

        Assert.Equal(1, decision.Admit);
        Assert.Equal(1, decision.ChosenBatchSize);
    }

    [Fact]
    public void A_busy_engine_holds_a_new_arrival_back_until_it_has_waited_as_long_as_its_prefill_would_stall_the_batch()
    {
        var scheduler = Warmed(out var time);
        var arrivals = Arrive(scheduler, time, perSecond: 2000, 0);
        // 32 rows running: prefilling one prompt (2.5 ms) costs them 80 row-milliseconds.
        var justArrived = scheduler.Decide(new EngineLoad(32, 32 * 40, 1, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1), arrivals));
        var waitedLongEnough = scheduler.Decide(new EngineLoad(32, 32 * 40, 1, TimeSpan.FromMilliseconds(81), TimeSpan.FromMilliseconds(81), arrivals));

        Assert.Equal(0, justArrived.Admit);
        Assert.Equal(1, waitedLongEnough.Admit);
        Assert.Equal(33, justArrived.ChosenBatchSize);
    }

    [Fact]
    public void A_busy_engine_admits_at_once_when_nobody_else_is_likely_to_arrive_to_share_the_prefill()
    {
        var scheduler = Warmed(out var time);
        var arrivals = Arrive(scheduler, time, perSecond: 1, 0);

        var decision = scheduler.Decide(new EngineLoad(32, 32 * 40, 1, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1), arrivals));

        Assert.True(scheduler.ArrivalRate < 50, $"arrival rate {scheduler.ArrivalRate}/s");
        Assert.Equal(1, decision.Admit);
    }

    [Fact]
    public void A_time_to_first_token_target_admits_before_the_next_step_would_pass_it()
    {
        var free = Warmed(out var freeTime);
        var targeted = Warmed(out var targetedTime, new LatencyTargets { MaxTimeToFirstToken = TimeSpan.FromMilliseconds(15) });
        var freeArrivals = Arrive(free, freeTime, perSecond: 2000, 0);
        var targetedArrivals = Arrive(targeted, targetedTime, perSecond: 2000, 0);
        // Waited 5 ms; a 32-row step (~7.4 ms) and the prefill (2.5 ms) would make it ~15 ms.
        var load = new EngineLoad(32, 32 * 40, 1, TimeSpan.FromMilliseconds(5.5), TimeSpan.FromMilliseconds(5.5), 0);

        Assert.Equal(0, free.Decide(load with { Arrivals = freeArrivals }).Admit);
        Assert.Equal(1, targeted.Decide(load with { Arrivals = targetedArrivals }).Admit);
    }

    [Fact]
    public void An_inter_token_latency_target_caps_the_batch_at_the_largest_size_whose_step_time_keeps_to_it()
    {
        // 1 ms + 0.2 ms per row stays within 7 ms up to 30 rows (positions add a little).
        var simulation = new SchedulerSimulation(64, new LatencyTargets { TargetInterTokenLatency = TimeSpan.FromMilliseconds(7) }, Decode, Prefill);

        simulation.Run(clients: 1, Second);
        simulation.Run(clients: 64, 2 * Second);

        Assert.InRange(simulation.Scheduler.BatchLimit, 26, 30);
        Assert.InRange(simulation.MostRunning, 26, 30);
        Assert.True(simulation.LongestDecodeStep <= TimeSpan.FromMilliseconds(7), $"a decode step took {simulation.LongestDecodeStep.TotalMilliseconds} ms");
        // A prefill into the running batch is split to fit the target too: a token waits at most a prefill and a step.
        Assert.True(simulation.LongestTokenGap <= TimeSpan.FromMilliseconds(2 * 7), $"a token waited {simulation.LongestTokenGap.TotalMilliseconds} ms");
    }

    [Fact]
    public void Without_a_target_every_slot_may_run()
    {
        var simulation = new SchedulerSimulation(64, LatencyTargets.None, Decode, Prefill);

        simulation.Run(clients: 64, Second);

        Assert.Equal(64, simulation.Scheduler.BatchLimit);
    }

    [Fact]
    public void Targets_out_of_range_are_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new AdaptiveScheduler(8, new LatencyTargets { TargetInterTokenLatency = TimeSpan.Zero }, TimeProvider.System));

        Assert.Contains(nameof(LatencyTargets.TargetInterTokenLatency), error.Message, StringComparison.Ordinal);
    }

    /// <summary>A scheduler that has measured decode steps of 1 to 64 rows and prefills of 1 to 16 prompts.</summary>
    private static AdaptiveScheduler Warmed(out FakeTimeProvider time, LatencyTargets? targets = null)
    {
        time = new FakeTimeProvider();
        var scheduler = new AdaptiveScheduler(64, targets ?? LatencyTargets.None, time);
        for (var rows = 1; rows <= 64; rows++)
        {
            scheduler.ObserveDecode(rows, rows * 40L, Decode(rows, rows * 40L));
        }

        for (var prompts = 1; prompts <= 16; prompts++)
        {
            scheduler.ObservePrefill(prompts, prompts * 16L, Prefill(prompts));
        }

        return scheduler;
    }

    /// <summary>Decisions for a simulated second during which requests arrive at <paramref name="perSecond"/>; returns the arrival count.</summary>
    private static long Arrive(AdaptiveScheduler scheduler, FakeTimeProvider time, double perSecond, long arrivals)
    {
        for (var tick = 0; tick < 200; tick++)
        {
            time.Advance(TimeSpan.FromMilliseconds(5));
            arrivals += (long)(perSecond * 0.005 * (tick + 1)) - (long)(perSecond * 0.005 * tick);
            scheduler.Decide(new EngineLoad(32, 32 * 40, 0, TimeSpan.Zero, TimeSpan.Zero, arrivals));
        }

        return arrivals;
    }

    private static int Median(List<int> values) => values.Order().ElementAt(values.Count / 2);
}
