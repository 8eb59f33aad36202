using Microsoft.Extensions.Time.Testing;
using MsSwift.Modeling.Generation.Scheduling;

namespace MsSwift.Modeling.Tests;

/// <summary>
/// An engine reduced to its clock: closed-loop clients (each sends its next request when the last
/// is answered), prefills and decode steps that take the time a cost model says, on a fake clock,
/// with the real <see cref="AdaptiveScheduler"/> deciding every iteration, as the engine does.
/// It is what lets the scheduler's policy be tested without timing real math.
/// </summary>
internal sealed class SchedulerSimulation
{
    private const int PromptTokens = 16;
    private const int NewTokens = 32;
    private readonly FakeTimeProvider _time = new();
    private readonly List<(long Length, int Left)> _running = [];
    private readonly Queue<long> _waiting = new();
    private readonly int _slots;
    private readonly Func<int, long, TimeSpan> _decodeCost;
    private readonly Func<int, TimeSpan> _prefillCost;
    private long _arrivals;

    /// <param name="slots">KV cache slots.</param>
    /// <param name="targets">The model's latency targets.</param>
    /// <param name="decodeCost">Time of a decode step of so many rows over so many cached positions.</param>
    /// <param name="prefillCost">Time of prefilling so many prompts together.</param>
    public SchedulerSimulation(int slots, LatencyTargets targets, Func<int, long, TimeSpan> decodeCost, Func<int, TimeSpan> prefillCost)
    {
        _slots = slots;
        _decodeCost = decodeCost;
        _prefillCost = prefillCost;
        Scheduler = new AdaptiveScheduler(slots, targets, _time);
    }

    public AdaptiveScheduler Scheduler { get; }

    /// <summary>Longest time between two tokens of one sequence seen so far (a prefill stalls the running rows too).</summary>
    public TimeSpan LongestTokenGap { get; private set; }

    public TimeSpan LongestDecodeStep { get; private set; }

    public int MostRunning { get; private set; }

    /// <summary>Runs <paramref name="clients"/> closed-loop clients for <paramref name="duration"/> of simulated time; returns each iteration's chosen batch.</summary>
    public List<int> Run(int clients, TimeSpan duration)
    {
        var chosen = new List<int>();
        var end = _time.GetUtcNow() + duration;
        while (_time.GetUtcNow() < end)
        {
            while (_running.Count + _waiting.Count < clients)
            {
                Arrive();
            }

            var now = _time.GetTimestamp();
            var load = new EngineLoad(_running.Count, _running.Sum(row => row.Length), _waiting.Count,
                _waiting.Count > 0 ? _time.GetElapsedTime(_waiting.Peek(), now) : TimeSpan.Zero,
                TimeSpan.FromTicks(_waiting.Sum(at => _time.GetElapsedTime(at, now).Ticks)), _arrivals);
            var decision = Decide(load);
            chosen.Add(decision.ChosenBatchSize);
            var step = TimeSpan.Zero;
            if (decision.Admit > 0)
            {
                var prefill = _prefillCost(decision.Admit);
                Advance(prefill);
                step += prefill;
                Scheduler.ObservePrefill(decision.Admit, decision.Admit * PromptTokens, prefill);
                for (var i = 0; i < decision.Admit; i++)
                {
                    _waiting.Dequeue();
                    _running.Add((PromptTokens, NewTokens - 1)); // the prefill gave the first token
                }
            }

            if (_running.Count > 0)
            {
                var positions = _running.Sum(row => row.Length);
                var decode = _decodeCost(_running.Count, positions);
                Advance(decode);
                step += decode;
                Scheduler.ObserveDecode(_running.Count, positions, decode);
                MostRunning = Math.Max(MostRunning, _running.Count);
                LongestDecodeStep = decode > LongestDecodeStep ? decode : LongestDecodeStep;
                LongestTokenGap = step > LongestTokenGap && _running.Count > decision.Admit ? step : LongestTokenGap;
                for (var i = _running.Count - 1; i >= 0; i--)
                {
                    var (length, left) = _running[i];
                    _running[i] = (length + 1, left - 1);
                    if (left - 1 == 0)
                    {
                        _running.RemoveAt(i);
                    }
                }
            }
        }

        return chosen;
    }

    private SchedulerDecision Decide(EngineLoad load)
    {
        var decision = Scheduler.Decide(load);
        Assert.InRange(decision.Admit, 0, Math.Min(load.Waiting, _slots - load.Running));
        return decision;
    }

    private void Arrive()
    {
        _waiting.Enqueue(_time.GetTimestamp());
        _arrivals++;
    }

    private void Advance(TimeSpan by) => _time.Advance(by);
}
