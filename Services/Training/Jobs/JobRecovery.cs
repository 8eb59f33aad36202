namespace MsSwift.Training.Jobs;

/// <summary>
/// Keeps every open job led by some coordinator: every few seconds it tries to take over open
/// jobs whose parameter-server lock has lapsed (their coordinator died), so a restarted or
/// surviving coordinator resumes them from their last checkpoint; and it ends the jobs it leads
/// that were cancelled through another coordinator.
/// </summary>
internal sealed partial class JobRecovery(JobRecords records, JobCoordinator coordinator, ILogger<JobRecovery> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                foreach (var jobId in await records.OpenJobsAsync())
                {
                    await coordinator.RecoverAsync(jobId, stoppingToken);
                }

                await coordinator.HonourCancellationsAsync();
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                LogFailed(logger, error.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job recovery pass failed; retrying: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
