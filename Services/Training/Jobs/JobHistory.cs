using System.Globalization;
using StackExchange.Redis;

namespace MsSwift.Training.Jobs;

/// <summary>A loss measured at a step: the train loss of that step, or an evaluation of its parameters.</summary>
public sealed record LossPoint(long Step, double Loss);

/// <summary>A job's loss curves, each in step order.</summary>
public sealed record LossHistory(string JobId, IReadOnlyList<LossPoint> Loss, IReadOnlyList<LossPoint> EvalLoss);

/// <summary>
/// Each job's loss curves in Redis, written by the coordinator that leads it: the train loss every
/// <c>max(1, steps / 2000)</c> steps and at the last step (so even a 1,000,000-step job keeps about
/// <see cref="TrainPoints"/> points), and every evaluation. Both are hashes keyed by step, so a
/// step run again after a takeover from a checkpoint replaces its point instead of adding another.
/// Writes are best effort: a lost point is logged, never thrown into the step that made it.
/// </summary>
public sealed partial class JobHistory(IConnectionMultiplexer redis, ILogger<JobHistory> logger)
{
    public const int TrainPoints = 2000;

    /// <summary>Whether step <paramref name="step"/> of a job of <paramref name="steps"/> steps keeps its train loss.</summary>
    public static bool Keeps(long step, int steps) => step == steps || step % Math.Max(1, steps / TrainPoints) == 0;

    /// <summary>
    /// Records the step's train loss if <see cref="Keeps"/> says so. The write is issued before
    /// this returns, so it reaches Redis before anything the caller writes afterwards.
    /// </summary>
    public Task RecordStepAsync(string jobId, long step, int steps, double loss) =>
        Keeps(step, steps) ? WriteAsync(LossKey(jobId), step, loss) : Task.CompletedTask;

    /// <summary>Records the validation loss of step <paramref name="step"/>'s parameters; issued before this returns.</summary>
    public Task RecordEvaluationAsync(string jobId, long step, double loss) => WriteAsync(EvalLossKey(jobId), step, loss);

    public async Task<LossHistory> ReadAsync(string jobId)
    {
        var database = redis.GetDatabase();
        var loss = database.HashGetAllAsync(LossKey(jobId));
        var evalLoss = database.HashGetAllAsync(EvalLossKey(jobId));
        return new LossHistory(jobId, Points(await loss), Points(await evalLoss));
    }

    private async Task WriteAsync(RedisKey key, long step, double loss)
    {
        try
        {
            // "R" and the invariant culture: the exact double comes back, NaN and infinities included.
            await redis.GetDatabase().HashSetAsync(key, step, loss.ToString("R", CultureInfo.InvariantCulture));
        }
        catch (RedisException error)
        {
            LogLost(logger, key.ToString(), step, error.Message);
        }
    }

    private static List<LossPoint> Points(HashEntry[] entries) =>
        entries.Select(entry => new LossPoint((long)entry.Name, double.Parse((string)entry.Value!, CultureInfo.InvariantCulture)))
            .OrderBy(point => point.Step)
            .ToList();

    private static RedisKey LossKey(string jobId) => $"msswift:training:job:{jobId}:history:loss";

    private static RedisKey EvalLossKey(string jobId) => $"msswift:training:job:{jobId}:history:eval-loss";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost a loss history point ({Key}, step {Step}): {Reason}")]
    private static partial void LogLost(ILogger logger, string key, long step, string reason);
}
