using System.ComponentModel;
using System.Text.Json;
using MsSwift.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Jobs;

internal sealed class JobListSettings : GatewaySettings
{
    [CommandOption("--limit <N>")]
    [Description("The newest N jobs (default 50)")]
    public int Limit { get; set; } = 50;
}

/// <summary><c>msswift jobs list</c>: the newest jobs with their state and progress.</summary>
internal sealed class JobListCommand(CliEnvironment environment) : GatewayCommand<JobListSettings>(environment)
{
    protected override string Describe(JobListSettings settings) => "list training jobs";

    protected override async Task<int> RunAsync(GatewayClient gateway, JobListSettings settings, CancellationToken cancellationToken)
    {
        using var answer = JsonDocument.Parse(await gateway.GetStringAsync(Describe(settings), $"training/jobs?limit={settings.Limit}", cancellationToken));
        var jobs = answer.RootElement.GetProperty("jobs").EnumerateArray().Select(JobSummary.Parse).ToList();
        if (settings.Json)
        {
            Environment.WriteRawLine($"{{\"jobs\":[{string.Join(",", jobs.Select(job => job.ToJson()))}]}}");
        }
        else if (jobs.Count == 0)
        {
            Environment.Console.MarkupLine("No training jobs yet. Start one: [bold]msswift train --dataset NAME --workers 2[/]");
        }
        else
        {
            Environment.Console.Write(JobSummary.Table(jobs));
        }

        return ExitCodes.Success;
    }
}

/// <summary><c>msswift jobs show JOB</c>: one job's request and status.</summary>
internal sealed class JobShowCommand(CliEnvironment environment) : GatewayCommand<JobSettings>(environment)
{
    protected override string Describe(JobSettings settings) => $"show job {settings.JobId}";

    protected override async Task<int> RunAsync(GatewayClient gateway, JobSettings settings, CancellationToken cancellationToken)
    {
        var job = await JobSummary.GetAsync(gateway, Describe(settings), settings.JobId, cancellationToken);
        if (settings.Json)
        {
            Environment.WriteRawLine(job.ToJson());
            return ExitCodes.Success;
        }

        Environment.Console.Write(JobSummary.Table([job]));
        if (job.Status.Message.Length > 0)
        {
            Environment.Console.MarkupLine("last event: {0}", Markup.Escape(job.Status.Message));
        }

        return ExitCodes.Success;
    }
}
