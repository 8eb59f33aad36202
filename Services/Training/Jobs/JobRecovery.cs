namespace MsSwift.Training.Jobs;

/// <summary>
/// Keeps every open job led by some coordinator: every few seconds it tries to take over open
/// jobs whose parameter-server lock has lapsed (their coordinator died), so a surviving or
/// restarted coordinator resumes them from their last checkpoint. This is the one timer of the
/// control plane: a lock lapsing is an absence of writes, which no notification announces.
/// </summary>
internal sealed partial class JobRecovery(JobStore store, JobCoordinator coordinator, TimeProvider time, ILogger<JobRecovery> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                foreach (var jobId in await store.OpenJobsAsync())
                {
                    // One job that cannot be taken over must not keep the jobs after it from being taken over.
                    try
                    {
                        await coordinator.RecoverAsync(jobId, stoppingToken);
                    }
                    catch (Exception error) when (!stoppingToken.IsCancellationRequested)
                    {
                        LogJobFailed(logger, jobId, error.Message);
                    }
                }
            }
            catch (Exception error) when (!stoppingToken.IsCancellationRequested)
            {
                // A timeout inside a pass (a slow store) is a failed pass, not the host stopping.
                LogFailed(logger, error.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Taking over job {JobId} failed: {Reason}")]
    private static partial void LogJobFailed(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job recovery pass failed; retrying: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
