using MsSwift.Cli.Infrastructure;
using Spectre.Console;
using MsSwift.Cli.Training;
using MsSwift.Contracts.V1;

namespace MsSwift.Cli.Commands.Jobs;

/// <summary><c>msswift jobs attach JOB</c>: follows a running (or finished) job's Train stream again.</summary>
internal sealed class JobAttachCommand(CliEnvironment environment) : GatewayCommand<JobSettings>(environment)
{
    protected override string Describe(JobSettings settings) => $"attach to job {settings.JobId}";

    protected override async Task<int> RunAsync(GatewayClient gateway, JobSettings settings, CancellationToken cancellationToken)
    {
        // The request says how many steps the job has, for the bar and the ETA; an unknown job fails here with NotFound.
        var job = await JobSummary.GetAsync(gateway, Describe(settings), settings.JobId, cancellationToken);
        using var call = gateway.Models.Train(new TrainRequest { JobId = settings.JobId }, cancellationToken: cancellationToken);
        var steps = job.Request.Steps > 0 ? job.Request.Steps : TrainCommand.DefaultSteps;
        return await new TrainWatch(Environment, settings.Json).FollowAsync(call, settings.JobId, steps, cancellationToken);
    }
}

/// <summary><c>msswift jobs cancel JOB</c>: asks the job's leader to stop it.</summary>
internal sealed class JobCancelCommand(CliEnvironment environment) : GatewayCommand<JobSettings>(environment)
{
    protected override string Describe(JobSettings settings) => $"cancel job {settings.JobId}";

    protected override async Task<int> RunAsync(GatewayClient gateway, JobSettings settings, CancellationToken cancellationToken)
    {
        var status = await gateway.Models.CancelTrainAsync(new CancelTrainRequest { JobId = settings.JobId }, cancellationToken: cancellationToken);
        if (settings.Json)
        {
            Environment.WriteRawLine(CliJson.Format(status));
        }
        else
        {
            Environment.Console.MarkupLine("Job [bold]{0}[/] is {1} at step {2}", status.JobId, TrainWatch.State(status.State), status.Step);
        }

        return ExitCodes.Success;
    }
}
