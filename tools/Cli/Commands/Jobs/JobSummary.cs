using System.Globalization;
using System.Text.Json;
using MsSwift.Cli.Infrastructure;
using MsSwift.Cli.Training;
using MsSwift.Contracts.V1;
using Spectre.Console;

namespace MsSwift.Cli.Commands.Jobs;

/// <summary>A job as the coordinator's <c>/training/jobs</c> API describes it: its request and latest status.</summary>
internal sealed record JobSummary(string JobId, DateTimeOffset Created, TrainRequest Request, TrainStatus Status)
{
    public static JobSummary Parse(JsonElement job) => new(
        job.GetProperty("jobId").GetString()!,
        job.GetProperty("created").GetDateTimeOffset(),
        ProtoJson.Parse<TrainRequest>(job.GetProperty("request").GetRawText()),
        ProtoJson.Parse<TrainStatus>(job.GetProperty("status").GetRawText()));

    public static async Task<JobSummary> GetAsync(GatewayClient gateway, string operation, string jobId, CancellationToken cancellationToken)
    {
        using var answer = JsonDocument.Parse(await gateway.GetStringAsync(operation, $"training/jobs/{Uri.EscapeDataString(jobId)}", cancellationToken));
        return Parse(answer.RootElement);
    }

    public string ToJson() =>
        $"{{\"jobId\":{JsonSerializer.Serialize(JobId)},\"created\":{JsonSerializer.Serialize(Created)},\"request\":{CliJson.Format(Request)},\"status\":{CliJson.Format(Status)}}}";

    public static Table Table(IEnumerable<JobSummary> jobs)
    {
        var table = new Table().RoundedBorder()
            .AddColumn("job").AddColumn("state").AddColumn("dataset").AddColumn("model")
            .AddColumn(new TableColumn("step").RightAligned()).AddColumn(new TableColumn("loss").RightAligned())
            .AddColumn(new TableColumn("eval loss").RightAligned()).AddColumn(new TableColumn("workers").RightAligned())
            .AddColumn("created").AddColumn("registered");
        foreach (var job in jobs)
        {
            var status = job.Status;
            var steps = job.Request.Steps > 0 ? $"{status.Step}/{job.Request.Steps}" : status.Step.ToString(CultureInfo.InvariantCulture);
            table.AddRow(
                Markup.Escape(job.JobId), StateMarkup(status.State), Markup.Escape(job.Request.Dataset),
                Markup.Escape(job.Request.Model.Length > 0 ? job.Request.Model : job.Request.Dataset),
                steps, TrainWatch.Loss(status.Loss), TrainWatch.Loss(status.EvalLoss), status.Workers.ToString(CultureInfo.InvariantCulture),
                job.Created.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                Markup.Escape(status.RegisteredVersion.Length > 0 ? $"{status.RegisteredModel} {status.RegisteredVersion}" : ""));
        }

        return table;
    }

    private static string StateMarkup(TrainState state) => state switch
    {
        TrainState.Succeeded => "[green]succeeded[/]",
        TrainState.Failed => "[red]failed[/]",
        TrainState.Cancelled => "[yellow]cancelled[/]",
        _ => TrainWatch.State(state),
    };
}
