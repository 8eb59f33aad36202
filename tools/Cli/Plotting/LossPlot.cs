using ScottPlot;

namespace MsSwift.Cli.Plotting;

/// <summary>Draws a job's loss curve (train, and eval when there is any) as a PNG and an SVG.</summary>
internal static class LossPlot
{
    /// <summary>Stroke colour of the train line, as ScottPlot writes it into the SVG.</summary>
    public const string TrainColor = "#1F77B4";

    /// <summary>Stroke and marker colour of the eval line, as ScottPlot writes it into the SVG.</summary>
    public const string EvalColor = "#FF7F0E";

    /// <summary>
    /// Writes <paramref name="pathWithoutExtension"/>.png and .svg, creating the folder if needed,
    /// and returns their full paths. NaN and infinite losses are left out of the curves.
    /// </summary>
    /// <exception cref="ArgumentException">The history has no train loss to draw.</exception>
    public static (string Png, string Svg) Write(
        LossHistory history, string title, string pathWithoutExtension, int width = 900, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentException.ThrowIfNullOrWhiteSpace(pathWithoutExtension);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);

        // No paramName: the message is what the CLI shows, and it should read as a sentence.
        if (history.Train.Count == 0)
            throw new ArgumentException("the job has reported no loss yet");
        var train = Finite(history.Train);
        if (train.Count == 0)
            throw new ArgumentException("the job has reported no finite loss yet: every train loss is NaN or infinite");
        var eval = Finite(history.Eval);

        PlotFont.EnsureRegistered();
        using var plot = new Plot();
        plot.Font.Set(PlotFont.Family);
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("loss");

        var trainLine = plot.Add.Scatter(Steps(train), Losses(train), Color.FromHex(TrainColor));
        trainLine.LegendText = "train";
        trainLine.LineWidth = 2;
        // A line through one point draws nothing; a lone point needs a marker to be seen.
        trainLine.MarkerSize = train.Count == 1 ? 6 : 0;

        // ScottPlot cannot scale axes to an empty series, and an empty legend entry says nothing.
        if (eval.Count > 0)
        {
            var evalLine = plot.Add.Scatter(Steps(eval), Losses(eval), Color.FromHex(EvalColor));
            evalLine.LegendText = "eval";
            evalLine.LineWidth = 1.5f;
            evalLine.MarkerSize = 6;
        }

        // Loss usually falls, so the upper right is where the curves are least likely to be.
        plot.ShowLegend(Alignment.UpperRight);

        var png = Path.GetFullPath(pathWithoutExtension + ".png");
        var svg = Path.GetFullPath(pathWithoutExtension + ".svg");
        Directory.CreateDirectory(Path.GetDirectoryName(png)!);
        plot.SavePng(png, width, height);
        plot.SaveSvg(svg, width, height);
        return (png, svg);
    }

    // Sorted by step so a history that arrives out of order still draws left to right.
    private static List<LossPoint> Finite(IReadOnlyList<LossPoint> points) =>
        [.. points.Where(p => double.IsFinite(p.Loss)).OrderBy(p => p.Step)];

    private static double[] Steps(List<LossPoint> points) => [.. points.Select(p => (double)p.Step)];

    private static double[] Losses(List<LossPoint> points) => [.. points.Select(p => p.Loss)];
}
