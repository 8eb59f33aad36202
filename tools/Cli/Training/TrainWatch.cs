using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using MsSwift.Cli.Infrastructure;
using MsSwift.Contracts.V1;
using Spectre.Console;

namespace MsSwift.Cli.Training;

/// <summary>
/// Follows a job's Train stream: a live progress bar (step, loss, eval loss, tokens/s, workers,
/// ETA) in a terminal, a line per milestone when output is not a terminal, one JSON status per
/// line with --json. Ctrl+C (the token) detaches: the job keeps running, and the user is told how
/// to come back. The exit code says how the job ended.
/// </summary>
internal sealed class TrainWatch(CliEnvironment environment, bool json)
{
    public async Task<int> FollowAsync(AsyncServerStreamingCall<TrainStatus> call, string? knownJobId, long totalSteps, CancellationToken cancellationToken)
    {
        var progress = new ProgressLine(totalSteps);
        TrainStatus? last = null;
        try
        {
            if (json || !environment.Console.Profile.Capabilities.Interactive)
            {
                await foreach (var status in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    last = status;
                    Report(status, progress);
                }
            }
            else
            {
                await environment.Console.Progress().AutoClear(false).HideCompleted(false)
                    .Columns(new ProgressBarColumn { Width = 16 }, new TaskDescriptionColumn { Alignment = Justify.Left })
                    .StartAsync(async context =>
                    {
                        var task = context.AddTask("starting", maxValue: Math.Max(1, totalSteps));
                        await foreach (var status in call.ResponseStream.ReadAllAsync(cancellationToken))
                        {
                            if (last is null)
                            {
                                // The job once, above the bar; the bar's line keeps to what changes.
                                environment.Console.MarkupLine("Job [bold]{0}[/]: Ctrl+C detaches, the job keeps running", status.JobId);
                            }

                            last = status;
                            progress.Observe(status);
                            task.Value = Math.Min(status.Step, task.MaxValue);
                            task.Description = Markup.Escape(progress.Describe(status, withJob: false));
                        }
                    });
            }
        }
        catch (Exception error) when (cancellationToken.IsCancellationRequested && error is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            var jobId = last?.JobId ?? knownJobId;
            environment.Error.WriteLine(jobId is null
                ? "Detached before the job started; list jobs with: msswift jobs list"
                : $"Detached from job {jobId}; it keeps running. Re-attach: msswift jobs attach {jobId}   Cancel: msswift jobs cancel {jobId}");
            return ExitCodes.Success;
        }
        catch (RpcException lost) when (lost.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Aborted
            && (last?.JobId ?? knownJobId) is { } jobId)
        {
            // The gateway or a coordinator restarted under the stream: the job itself goes on.
            throw new CliException($"lost the Train stream of job {jobId} ({lost.Status.Detail}); the job keeps running: re-attach with msswift jobs attach {jobId}");
        }

        return Finish(last ?? throw new CliException("the Train stream ended before any status; list jobs with: msswift jobs list"));
    }

    private void Report(TrainStatus status, ProgressLine progress)
    {
        var milestone = progress.Observe(status);
        if (json)
        {
            environment.WriteRawLine(CliJson.Format(status));
        }
        else if (milestone)
        {
            environment.WriteRawLine(progress.Describe(status));
        }
    }

    private int Finish(TrainStatus status)
    {
        switch (status.State)
        {
            case TrainState.Succeeded:
                if (!json)
                {
                    environment.Console.MarkupLine("[green]Job {0} succeeded[/]: registered [bold]{1} {2}[/] (loss {3}, eval loss {4})",
                        status.JobId, Markup.Escape(status.RegisteredModel), Markup.Escape(status.RegisteredVersion), Loss(status.Loss), Loss(status.EvalLoss));
                    environment.Console.MarkupLine("Next: [bold]msswift models promote {0} {1}[/], [bold]msswift jobs plot {2}[/]",
                        Markup.Escape(status.RegisteredModel), Markup.Escape(status.RegisteredVersion), status.JobId);
                }

                return ExitCodes.Success;
            case TrainState.Failed or TrainState.Cancelled:
                throw new CliException($"job {status.JobId} ended {State(status.State)}: {status.Message}");
            default:
                throw new CliException($"the Train stream of job {status.JobId} ended while it was {State(status.State)}; re-attach: msswift jobs attach {status.JobId}");
        }
    }

    public static string State(TrainState state) => state.ToString().ToLowerInvariant();

    private static string TokensPerSecond(double value) =>
        value >= 10_000 ? $"{(value / 1000).ToString("F0", CultureInfo.InvariantCulture)}k" : value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Loss(double loss) => loss == 0 ? "-" : loss.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>The one-line summary of a status, with the ETA from the steps/s seen on this stream.</summary>
    private sealed class ProgressLine(long totalSteps)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private (TimeSpan At, long Step)? firstRunning;
        private TrainState? lastState;
        private long lastEvalStep;
        private long lastReportedTenth = -1;

        /// <summary>Records the status; true when it is worth a line of its own (state change, evaluation, each tenth of the job).</summary>
        public bool Observe(TrainStatus status)
        {
            if (status.State == TrainState.Running && firstRunning is null)
            {
                firstRunning = (clock.Elapsed, status.Step);
            }

            var milestone = status.State != lastState || status.EvalStep != lastEvalStep;
            var tenth = totalSteps > 0 ? status.Step * 10 / totalSteps : -1;
            milestone |= tenth > lastReportedTenth;
            (lastState, lastEvalStep, lastReportedTenth) = (status.State, status.EvalStep, Math.Max(tenth, lastReportedTenth));
            return milestone;
        }

        public string Describe(TrainStatus status, bool withJob = true)
        {
            var steps = totalSteps > 0 ? $"{status.Step}/{totalSteps}" : status.Step.ToString(CultureInfo.InvariantCulture);
            var job = withJob ? $"{status.JobId} " : "";
            var state = status.State == TrainState.Running && !withJob ? "" : $"{State(status.State)} ";
            // Next to the bar it must fit 80 columns: "1200/2000 loss 1.547 eval 1.595 19k tok/s 2 workers ETA 04:33".
            var line = $"{job}{state}{(withJob ? "step " : "")}{steps} loss {Loss(status.Loss)} eval {Loss(status.EvalLoss)}" +
                $" {TokensPerSecond(status.TokensPerSecond)} tok/s {status.Workers} worker{(status.Workers == 1 ? "" : "s")}";
            return Eta(status) is { } eta ? $"{line} ETA {(eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : eta.ToString(@"mm\:ss", CultureInfo.InvariantCulture))}" : line;
        }

        private TimeSpan? Eta(TrainStatus status)
        {
            if (firstRunning is not { } start || totalSteps <= 0 || status.Step <= start.Step || status.State != TrainState.Running)
            {
                return null;
            }

            var stepsPerSecond = (status.Step - start.Step) / (clock.Elapsed - start.At).TotalSeconds;
            return TimeSpan.FromSeconds(Math.Round((totalSteps - status.Step) / stepsPerSecond));
        }
    }
}
