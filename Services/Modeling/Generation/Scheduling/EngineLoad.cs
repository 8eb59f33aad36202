namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>What the engine sees before each iteration, for <see cref="AdaptiveScheduler.Decide"/>.</summary>
/// <param name="Running">Sequences holding a KV slot.</param>
/// <param name="CachedPositions">Positions cached over all running sequences (what attention reads per step).</param>
/// <param name="Waiting">Requests in the queue.</param>
/// <param name="OldestWait">How long the oldest waiting request has waited.</param>
/// <param name="TotalWait">The waiting requests' waits added up (request-seconds spent idle).</param>
/// <param name="Arrivals">Requests submitted since the engine started (a running count, for the arrival rate).</param>
public readonly record struct EngineLoad(int Running, long CachedPositions, int Waiting, TimeSpan OldestWait, TimeSpan TotalWait, long Arrivals);

/// <summary>What the scheduler decided for one iteration.</summary>
/// <param name="Admit">Waiting requests to prefill now (0: let the running ones decode first).</param>
/// <param name="BatchLimit">The most sequences to run together (a latency target lowers it below the slots).</param>
/// <param name="ChosenBatchSize">The batch it is steering to: the demand (running and waiting), capped at the limit.</param>
public readonly record struct SchedulerDecision(int Admit, int BatchLimit, int ChosenBatchSize);
