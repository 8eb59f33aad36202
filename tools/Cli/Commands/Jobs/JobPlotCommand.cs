using System.ComponentModel;
using System.Text.Json;
using MsSwift.Cli.Infrastructure;
using MsSwift.Cli.Plotting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Jobs;

internal sealed class JobPlotSettings : JobSettings
{
    [CommandOption("-o|--output <PATH>")]
    [Description("Where to write, without extension: PATH.png and PATH.svg (default: ./JOB-loss)")]
    public string? Output { get; set; }
}

/// <summary><c>msswift jobs plot JOB</c>: the job's train and eval loss curves as PNG and SVG.</summary>
internal sealed class JobPlotCommand(CliEnvironment environment) : GatewayCommand<JobPlotSettings>(environment)
{
    protected override string Describe(JobPlotSettings settings) => $"plot job {settings.JobId}";

    protected override async Task<int> RunAsync(GatewayClient gateway, JobPlotSettings settings, CancellationToken cancellationToken)
    {
        var job = await JobSummary.GetAsync(gateway, Describe(settings), settings.JobId, cancellationToken);
        var history = await ReadHistoryAsync(gateway, settings, cancellationToken);
        if (history.Train.Count == 0)
        {
            throw new CliException($"plot job {settings.JobId} failed: the job has reported no loss yet; try again after its first step");
        }

        var model = job.Request.Model.Length > 0 ? job.Request.Model : job.Request.Dataset;
        var (png, svg) = LossPlot.Write(history, $"{model}: job {job.JobId}", settings.Output ?? $"{settings.JobId}-loss");
        if (settings.Json)
        {
            Environment.WriteRawLine(CliJson.Serialize(new { jobId = job.JobId, png = Path.GetFullPath(png), svg = Path.GetFullPath(svg), train = history.Train, eval = history.Eval }));
        }
        else
        {
            Environment.Console.MarkupLine("Wrote [bold]{0}[/] and [bold]{1}[/] ({2} train points, {3} eval points)",
                Markup.Escape(Path.GetFullPath(png)), Markup.Escape(Path.GetFullPath(svg)), history.Train.Count, history.Eval.Count);
        }

        return ExitCodes.Success;
    }

    private static async Task<LossHistory> ReadHistoryAsync(GatewayClient gateway, JobPlotSettings settings, CancellationToken cancellationToken)
    {
        var json = await gateway.GetStringAsync($"plot job {settings.JobId}", $"training/jobs/{Uri.EscapeDataString(settings.JobId)}/history", cancellationToken);
        using var answer = JsonDocument.Parse(json);
        return new LossHistory(settings.JobId, Points(answer.RootElement.GetProperty("loss")), Points(answer.RootElement.GetProperty("evalLoss")));
    }

    private static List<LossPoint> Points(JsonElement points) =>
        points.EnumerateArray().Select(point => new LossPoint(point.GetProperty("step").GetInt64(), Loss(point.GetProperty("loss")))).ToList();

    // A diverged job's NaN arrives as the string "NaN"; the plot leaves such points out.
    private static double Loss(JsonElement loss) =>
        loss.ValueKind == JsonValueKind.String ? double.Parse(loss.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : loss.GetDouble();
}
