using System.Xml.Linq;
using MsSwift.Cli.Plotting;
using ScottPlot;

namespace MsSwift.Cli.Tests;

/// <summary>The loss plot: real PNG and SVG files whose curves are the job's losses.</summary>
public sealed class LossPlotTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("msswift-lossplot-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // A falling, bumpy curve at uneven steps: a plot that drew points evenly spaced, in another
    // order or on another scale would not match it.
    private static readonly LossPoint[] Train =
        [.. Enumerable.Range(0, 40).Select(i => new LossPoint(10 + (i * (i + 5)), (2.5 * Math.Exp(-i / 12.0)) + (0.15 * Math.Sin(i * 1.3))))];

    private static readonly LossPoint[] Eval =
        [.. Train.Where((_, i) => i % 8 == 7).Select(p => p with { Loss = p.Loss + 0.2 })];

    [Fact]
    public void The_png_has_the_requested_size_and_shows_both_series()
    {
        var (png, _) = LossPlot.Write(new("job-1", Train, Eval), "job-1 · tiny-gpt", Path.Combine(_folder, "loss"), 640, 360);

        Assert.Equal((640, 360), PngFile.HeaderSize(png));
        using var bitmap = PngFile.Decode(png);
        Assert.Equal((640, 360), (bitmap.Width, bitmap.Height));
        // Far more than the legend's 20-pixel swatch: the curve itself is drawn.
        Assert.True(PngFile.PixelsNear(bitmap, LossPlot.TrainColor) > 400, "the train curve is not in the PNG");
        Assert.True(PngFile.PixelsNear(bitmap, LossPlot.EvalColor) > 150, "the eval curve is not in the PNG");
    }

    [Fact]
    public void The_svg_is_well_formed_xml_of_the_requested_size_with_title_axes_and_legend()
    {
        var (_, svg) = LossPlot.Write(new("job-1", Train, Eval), "job-1 tiny-gpt", Path.Combine(_folder, "loss"), 640, 360);

        var texts = XDocument.Load(svg).Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).ToList();
        Assert.Equal((640.0, 360.0), SvgCurve.Size(svg));
        Assert.Subset(texts.Select(t => t.Value.Trim()).ToHashSet(), new HashSet<string> { "job-1 tiny-gpt", "step", "loss", "train", "eval" });
        // Every label is set in the embedded font, so it draws on machines without system fonts.
        Assert.All(texts, t => Assert.Equal(PlotFont.Family, (string?)t.Attribute("font-family")));
    }

    [Fact]
    public void The_train_curve_in_the_svg_is_the_train_losses()
    {
        var (_, svg) = LossPlot.Write(new("job-1", Train, Eval), "job-1", Path.Combine(_folder, "loss"));

        SvgCurve.AssertTracks(Train, SvgCurve.Line(svg, LossPlot.TrainColor));
    }

    [Fact]
    public void The_eval_curve_has_a_marker_per_point_on_the_same_scale_as_train()
    {
        var (_, svg) = LossPlot.Write(new("job-1", Train, Eval), "job-1", Path.Combine(_folder, "loss"));

        var line = SvgCurve.Line(svg, LossPlot.EvalColor);
        var markers = SvgCurve.Markers(svg, LossPlot.EvalColor);
        // Skia writes path vertices with 6 significant digits and marker centres with 8.
        Assert.Equal(line.Count, markers.Count);
        Assert.All(line.Zip(markers), pair => Assert.True(Math.Abs(pair.First.X - pair.Second.X) < 0.01 && Math.Abs(pair.First.Y - pair.Second.Y) < 0.01, $"marker {pair.Second} is not on the line at {pair.First}"));
        // Calibrated on the train curve: eval sits where its losses are on the shared axes.
        var trainLine = SvgCurve.Line(svg, LossPlot.TrainColor);
        var (low, high) = (SvgCurve.IndexOfMin(Train), SvgCurve.IndexOfMax(Train));
        var losses = SvgCurve.ToValues(line.Select(v => v.Y), (trainLine[low].Y, Train[low].Loss), (trainLine[high].Y, Train[high].Loss));
        var steps = SvgCurve.ToValues(line.Select(v => v.X), (trainLine[0].X, Train[0].Step), (trainLine[^1].X, Train[^1].Step));
        Assert.Equal(Eval.Length, line.Count);
        for (var i = 0; i < Eval.Length; i++)
        {
            Assert.InRange(losses[i], Eval[i].Loss - 0.01 * SvgCurve.Range(Train), Eval[i].Loss + 0.01 * SvgCurve.Range(Train));
            Assert.InRange(steps[i], Eval[i].Step - 0.01 * SvgCurve.StepRange(Train), Eval[i].Step + 0.01 * SvgCurve.StepRange(Train));
        }
    }

    [Fact]
    public void Nan_and_infinite_losses_are_left_out_of_both_curves()
    {
        LossPoint[] train = [.. Train[..10], new(Train[9].Step + 1, double.NaN), new(Train[9].Step + 2, double.PositiveInfinity), new(Train[9].Step + 3, double.NegativeInfinity), .. Train[10..]];
        LossPoint[] eval = [Eval[0], new(Eval[0].Step + 1, double.NaN), .. Eval[1..]];

        var (_, svg) = LossPlot.Write(new("job-1", train, eval), "job-1", Path.Combine(_folder, "loss"));

        SvgCurve.AssertTracks(Train, SvgCurve.Line(svg, LossPlot.TrainColor));
        Assert.Equal(Eval.Length, SvgCurve.Markers(svg, LossPlot.EvalColor).Count);
    }

    [Fact]
    public void A_history_out_of_order_is_drawn_in_step_order()
    {
        LossPoint[] shuffled = [.. Train.OrderBy(p => p.Loss)];

        var (_, svg) = LossPlot.Write(new("job-1", shuffled, []), "job-1", Path.Combine(_folder, "loss"));

        SvgCurve.AssertTracks(Train, SvgCurve.Line(svg, LossPlot.TrainColor));
    }

    [Fact]
    public void Without_eval_losses_only_the_train_curve_is_drawn()
    {
        var (png, svg) = LossPlot.Write(new("job-1", Train, []), "job-1", Path.Combine(_folder, "loss"));

        SvgCurve.AssertTracks(Train, SvgCurve.Line(svg, LossPlot.TrainColor));
        Assert.False(SvgCurve.HasSeries(svg, LossPlot.EvalColor));
        using var bitmap = PngFile.Decode(png);
        Assert.Equal(0, PngFile.PixelsNear(bitmap, LossPlot.EvalColor));
    }

    [Fact]
    public void A_single_train_loss_is_drawn_as_a_marker()
    {
        var (png, svg) = LossPlot.Write(new("job-1", [new(5, 3.2)], []), "job-1", Path.Combine(_folder, "loss"));

        Assert.Single(SvgCurve.Markers(svg, LossPlot.TrainColor));
        using var bitmap = PngFile.Decode(png);
        Assert.True(PngFile.PixelsNear(bitmap, LossPlot.TrainColor) > 20, "the lone train point is not in the PNG");
    }

    [Fact]
    public void A_job_without_train_losses_is_refused_and_nothing_is_written()
    {
        var path = Path.Combine(_folder, "loss");

        var error = Assert.Throws<ArgumentException>(() => LossPlot.Write(new("job-1", [], Eval), "job-1", path));

        Assert.Equal("the job has reported no loss yet", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_folder));
    }

    [Fact]
    public void A_job_whose_every_train_loss_is_nan_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            LossPlot.Write(new("job-1", [new(1, double.NaN), new(2, double.PositiveInfinity)], []), "job-1", Path.Combine(_folder, "loss")));

        Assert.Contains("NaN or infinite", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_folders_of_the_path_are_created()
    {
        var (png, svg) = LossPlot.Write(new("job-1", Train, Eval), "job-1", Path.Combine(_folder, "plots", "job-1", "loss"));

        Assert.Equal(Path.Combine(_folder, "plots", "job-1", "loss.png"), png);
        Assert.Equal(Path.Combine(_folder, "plots", "job-1", "loss.svg"), svg);
        Assert.True(File.Exists(png) && File.Exists(svg));
    }

    [Fact]
    public void ScottPlot_resolves_the_plot_font_to_the_embedded_file()
    {
        PlotFont.EnsureRegistered();

        // Not a system font that happens to share the name: the one read from the assembly.
        Assert.Same(PlotFont.Typeface, Fonts.GetTypeface(PlotFont.Family, bold: false, italic: false));
        Assert.Same(PlotFont.Typeface, Fonts.GetTypeface(PlotFont.Family, bold: true, italic: false));
        Assert.Equal(PlotFont.Family, PlotFont.Typeface.FamilyName);
        Assert.True(PlotFont.Typeface.ContainsGlyphs("step loss train eval 0123456789.-"));
    }
}
