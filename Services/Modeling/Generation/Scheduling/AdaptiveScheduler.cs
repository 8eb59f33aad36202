namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>
/// Decides, before each engine iteration, how many sequences run together and when waiting
/// requests are prefilled, from what the engine measures: decode-step time as a function of rows
/// and cached positions, prefill time as a function of rows and prompt tokens, the queue and the
/// arrival rate. Nothing here is a batch size to tune:
/// <list type="bullet">
/// <item>An idle engine admits at once, so a lone request gets batch-1 latency.</item>
/// <item>A busy engine weighs the prefill's stall against the waiting: a prefill stops every
/// running row for its duration (rows x prefill seconds lost), while the waiting requests lose a
/// request-second per second. It admits once the waiting have lost as much as the stall would
/// cost (the ski-rental rule), at once when waiting longer cannot grow the prefill (the free
/// slots are all spoken for, or at the measured arrival rate nobody is likely to join before
/// then), and whenever the next step would carry the oldest request past its TTFT target. So a
/// burst is prefilled in few large batches and the batch fills up, while a trickle is not made
/// to wait for company that is not coming.</item>
/// <item>With an inter-token latency target, the batch is capped at the largest size whose
/// predicted decode step keeps to it, and a prefill into a running batch is split to take no
/// longer than the target either (so a token waits at most about twice the target while others
/// are admitted; prefills are not chunked). Without a target, every slot may run.</item>
/// </list>
/// Pure and single-threaded (the engine thread calls it), with time from a <see cref="TimeProvider"/>.
/// </summary>
public sealed class AdaptiveScheduler
{
    /// <summary>Weight of the newest measurement in the arrival rate (EWMA per decision interval).</summary>
    private const double RateSmoothing = 0.05;

    private readonly int _slots;
    private readonly LatencyTargets _targets;
    private readonly TimeProvider _time;
    private readonly StepTimeModel _decode;
    private readonly StepTimeModel _prefill;
    private double _promptTokens = 16;
    private long _arrivals;
    private long _arrivalsSeenAt;
    private bool _started;

    public AdaptiveScheduler(int slots, LatencyTargets targets, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _slots = slots;
        _targets = targets.Validate();
        _time = time;
        _decode = new StepTimeModel(slots);
        _prefill = new StepTimeModel(slots);
        BatchLimit = slots;
    }

    /// <summary>Requests per second arriving, smoothed.</summary>
    public double ArrivalRate { get; private set; }

    /// <summary>The latest cap on running sequences.</summary>
    public int BatchLimit { get; private set; }

    /// <summary>The latest decision's batch: running and waiting, capped at <see cref="BatchLimit"/>.</summary>
    public int ChosenBatchSize { get; private set; }

    /// <summary>Predicted seconds of one decode step of <paramref name="rows"/> rows over <paramref name="cachedPositions"/> positions; null before any was measured.</summary>
    public double? PredictDecode(int rows, long cachedPositions) => _decode.Predict(rows, (double)cachedPositions / Math.Max(1, rows));

    /// <summary>Predicted seconds of prefilling <paramref name="rows"/> prompts together; null before any was measured.</summary>
    public double? PredictPrefill(int rows) => _prefill.Predict(rows, _promptTokens);

    public void ObserveDecode(int rows, long cachedPositions, TimeSpan elapsed) =>
        _decode.Observe(rows, cachedPositions, elapsed.TotalSeconds);

    /// <param name="rows">Prompts prefilled together.</param>
    /// <param name="tokens">Tokens the prefill computed (rows x the longest prompt, padding included).</param>
    /// <param name="elapsed">How long it took.</param>
    public void ObservePrefill(int rows, long tokens, TimeSpan elapsed)
    {
        if (rows < 1)
        {
            return;
        }

        _prefill.Observe(rows, tokens, elapsed.TotalSeconds);
        _promptTokens += 0.1 * ((double)tokens / rows - _promptTokens);
    }

    public SchedulerDecision Decide(EngineLoad load)
    {
        UpdateArrivalRate(load.Arrivals);
        BatchLimit = Limit(load);
        ChosenBatchSize = Math.Clamp(load.Running + load.Waiting, Math.Min(load.Running, BatchLimit), BatchLimit);
        return new SchedulerDecision(AdmitNow(load, BatchLimit), BatchLimit, ChosenBatchSize);
    }

    private int Limit(EngineLoad load)
    {
        if (_targets.TargetInterTokenLatency is not { } target || !_decode.Observed)
        {
            return _slots;
        }

        // Step time grows with rows: binary search for the largest batch predicted within the target.
        // Beyond the largest batch measured the prediction is a guess, so the cap grows by at most
        // doubling it (slow start): the next steps measure the new size before it grows again.
        var perRow = load.Running > 0 ? (double)load.CachedPositions / load.Running : _promptTokens;
        var (fits, over) = (1, Math.Min(_slots, 2 * _decode.Largest) + 1);
        while (over - fits > 1)
        {
            var rows = (fits + over) / 2;
            (fits, over) = _decode.Predict(rows, perRow) <= target.TotalSeconds ? (rows, over) : (fits, rows);
        }

        return fits;
    }

    private int AdmitNow(EngineLoad load, int limit)
    {
        var room = Math.Min(load.Waiting, limit - load.Running);
        if (room <= 0)
        {
            return 0;
        }

        if (load.Running == 0)
        {
            return room;
        }

        room = FitPrefillToTarget(room);
        if (PredictPrefill(room) is not { } prefill)
        {
            return room; // nothing measured yet: no stall to weigh
        }

        var step = PredictDecode(load.Running, load.CachedPositions) ?? 0;
        if (_targets.MaxTimeToFirstToken is { } ttft && (load.OldestWait.TotalSeconds + step + prefill) >= ttft.TotalSeconds)
        {
            return room;
        }

        var stall = load.Running * prefill;
        var waited = load.TotalWait.TotalSeconds;
        if (waited >= stall || room == limit - load.Running)
        {
            return room;
        }

        // The waiting lose Waiting request-seconds per second; before the rule above is met, how many more are expected to arrive?
        var untilDue = (stall - waited) / load.Waiting;
        return ArrivalRate * untilDue < 1 ? room : 0;
    }

    /// <summary>With an inter-token target, a prefill that would stall the running rows past it is split (one prompt at least).</summary>
    private int FitPrefillToTarget(int room)
    {
        if (_targets.TargetInterTokenLatency is not { } target || !_prefill.Observed)
        {
            return room;
        }

        while (room > 1 && PredictPrefill(room) > target.TotalSeconds)
        {
            room--;
        }

        return room;
    }

    private void UpdateArrivalRate(long arrivals)
    {
        var now = _time.GetTimestamp();
        if (!_started)
        {
            (_started, _arrivals, _arrivalsSeenAt) = (true, arrivals, now);
            return;
        }

        var seconds = _time.GetElapsedTime(_arrivalsSeenAt, now).TotalSeconds;
        if (seconds <= 0)
        {
            return;
        }

        // Weight by elapsed time, so a long idle gap counts as much as many short steps without arrivals.
        var weight = 1 - Math.Pow(1 - RateSmoothing, seconds / 0.01);
        ArrivalRate += weight * ((arrivals - _arrivals) / seconds - ArrivalRate);
        (_arrivals, _arrivalsSeenAt) = (arrivals, now);
    }
}
