using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using MsSwift.Cli.Plotting;

namespace MsSwift.Cli.Tests;

/// <summary>
/// Reads the series back out of an SVG that ScottPlot 5 wrote, so a test can compare a plot's
/// curve with the numbers it was drawn from.
/// </summary>
/// <remarks>
/// ScottPlot 5.1 writes SVG through Skia's SVG canvas, which emits one element per draw call, in
/// draw order, all in absolute pixels of the image (origin top left, y growing downwards):
/// <code>
/// &lt;svg width="900" height="500"&gt;
///   &lt;rect fill="white" .../&gt;                                  background
///   &lt;path fill="none" stroke="#010101" .../&gt;                   grid lines
///   &lt;clipPath id="cl_4"&gt;&lt;rect .../&gt;&lt;/clipPath&gt;            the data area
///   &lt;g clip-path="url(#cl_4)"&gt;                                one group per series, in the order added
///     &lt;path fill="none" stroke="#1F77B4" d="M81 45L82 44..."/&gt;  its line: M then L per point
///     &lt;ellipse fill="#1F77B4" cx=".." cy=".." .../&gt;              its markers, one per point (if any)
///   &lt;/g&gt;
///   ...legend: rects, then a &lt;g clip-path&gt; holding &lt;text&gt;, a short swatch path and a marker per entry
///   ...axis labels and ticks: &lt;text&gt; and short paths
/// </code>
/// A series is found by its colour (<c>LossPlot.TrainColor</c>, <c>LossPlot.EvalColor</c>): its group
/// is the first clipped group holding a line of that stroke and no text, which leaves out the
/// legend's swatch of the same colour. A series of one point has an empty <c>d</c> (Skia drops a
/// line with no segment): read its <see cref="Markers"/> instead. A NaN in the data would start a
/// new <c>M</c> subpath; LossPlot never passes one, and <see cref="Line"/> returns the vertices of
/// every subpath in order.
/// </remarks>
internal static partial class SvgCurve
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>The vertices of the series' line, in pixels, in drawing order.</summary>
    public static IReadOnlyList<(double X, double Y)> Line(string svgPath, string color)
    {
        var d = (string?)LinePath(SeriesGroup(XDocument.Load(svgPath), color), color).Attribute("d") ?? "";
        var vertices = new List<(double X, double Y)>();
        foreach (Match command in PathCommand().Matches(d))
        {
            var op = command.Groups["op"].Value;
            var args = command.Groups["args"].Value.Split([' ', ',', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (op is not ("M" or "L") || args.Length != 2)
                throw new InvalidDataException($"'{command.Value}' in a series line: this reader knows only ScottPlot's absolute M and L");
            vertices.Add((Number(args[0]), Number(args[1])));
        }
        return vertices;
    }

    /// <summary>The centres of the series' markers, in pixels, in drawing order (the legend's are left out).</summary>
    public static IReadOnlyList<(double X, double Y)> Markers(string svgPath, string color) =>
        [.. SeriesGroup(XDocument.Load(svgPath), color).Elements(Svg + "ellipse")
            .Where(e => SameColor((string?)e.Attribute("fill"), color))
            .Select(e => (Number((string)e.Attribute("cx")!), Number((string)e.Attribute("cy")!)))];

    /// <summary>Whether the SVG draws a line of this colour at all (false for a series left out).</summary>
    public static bool HasSeries(string svgPath, string color) =>
        FindSeriesGroup(XDocument.Load(svgPath), color) is not null;

    /// <summary>The width and height attributes of the root element.</summary>
    public static (double Width, double Height) Size(string svgPath)
    {
        var root = XDocument.Load(svgPath).Root!;
        return (Number((string)root.Attribute("width")!), Number((string)root.Attribute("height")!));
    }

    /// <summary>
    /// Maps pixel coordinates back to data values with the linear map through two calibration
    /// points, e.g. the pixel y and the loss of the lowest and the highest point.
    /// </summary>
    public static IReadOnlyList<double> ToValues(
        IEnumerable<double> pixels, (double Pixel, double Value) a, (double Pixel, double Value) b)
    {
        var slope = (b.Value - a.Value) / (b.Pixel - a.Pixel);
        return [.. pixels.Select(p => a.Value + ((p - a.Pixel) * slope))];
    }

    private static XElement SeriesGroup(XDocument svg, string color) =>
        FindSeriesGroup(svg, color) ?? throw new InvalidDataException($"the SVG has no series drawn in {color}");

    private static XElement? FindSeriesGroup(XDocument svg, string color) =>
        svg.Descendants(Svg + "g").FirstOrDefault(g =>
            g.Attribute("clip-path") is not null
            && !g.Elements(Svg + "text").Any()
            && g.Elements(Svg + "path").Any(p => IsLine(p, color)));

    private static XElement LinePath(XElement group, string color) => group.Elements(Svg + "path").First(p => IsLine(p, color));

    private static bool IsLine(XElement path, string color) =>
        (string?)path.Attribute("fill") == "none" && SameColor((string?)path.Attribute("stroke"), color);

    private static bool SameColor(string? a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    // Skia writes "M81.4051 45.5251L81.5582 44.8064": a command letter, then its numbers. Every
    // letter but e/E (an exponent) starts a command, so an unexpected one (C, Z) is seen, not skipped.
    [GeneratedRegex(@"(?<op>[A-DF-Za-df-z])(?<args>[^A-DF-Za-df-z]*)")]
    private static partial Regex PathCommand();

    /// <summary>
    /// The drawn line follows <paramref name="points"/>: one vertex per point, left to right, each
    /// step up in loss a step up on screen, and every vertex mapped back (calibrated on the lowest
    /// and highest loss, first and last step) within 1% of the data range of its point.
    /// </summary>
    public static void AssertTracks(IReadOnlyList<LossPoint> points, IReadOnlyList<(double X, double Y)> line)
    {
        Assert.Equal(points.Count, line.Count);
        for (var i = 1; i < points.Count; i++)
        {
            Assert.True(line[i].X > line[i - 1].X, $"vertex {i} is not right of vertex {i - 1}");
            // Pairs closer than 1% of the range can round to the same pixel; the mapping below still checks them.
            if (Math.Abs(points[i].Loss - points[i - 1].Loss) > 0.01 * Range(points))
                Assert.True(Math.Sign(line[i].Y - line[i - 1].Y) == -Math.Sign(points[i].Loss - points[i - 1].Loss), $"vertex {i} moves the wrong way");
        }

        var (low, high) = (IndexOfMin(points), IndexOfMax(points));
        var losses = SvgCurve.ToValues(line.Select(v => v.Y), (line[low].Y, points[low].Loss), (line[high].Y, points[high].Loss));
        var steps = SvgCurve.ToValues(line.Select(v => v.X), (line[0].X, points[0].Step), (line[^1].X, points[^1].Step));
        for (var i = 0; i < points.Count; i++)
        {
            Assert.InRange(losses[i], points[i].Loss - 0.01 * Range(points), points[i].Loss + 0.01 * Range(points));
            Assert.InRange(steps[i], points[i].Step - 0.01 * StepRange(points), points[i].Step + 0.01 * StepRange(points));
        }
    }

    public static double Range(IReadOnlyList<LossPoint> points) => points.Max(p => p.Loss) - points.Min(p => p.Loss);

    public static double StepRange(IReadOnlyList<LossPoint> points) => points[^1].Step - points[0].Step;

    public static int IndexOfMin(IReadOnlyList<LossPoint> points) => points.Select((p, i) => (p.Loss, i)).Min().i;

    public static int IndexOfMax(IReadOnlyList<LossPoint> points) => points.Select((p, i) => (p.Loss, i)).Max().i;
}
