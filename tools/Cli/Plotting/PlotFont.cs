using ScottPlot;
using SkiaSharp;

namespace MsSwift.Cli.Plotting;

/// <summary>
/// The font every loss plot is drawn with: DejaVu Sans, embedded in the assembly.
/// </summary>
/// <remarks>
/// Skia's NoDependencies build (no fontconfig) only scans /usr/share/fonts. On a machine or
/// container without fonts there, ScottPlot gets an empty typeface and draws every title, label
/// and tick as nothing, without an error. Always using the embedded file also makes a plot look
/// the same, and measure the same, on every machine.
/// </remarks>
internal static class PlotFont
{
    public const string Family = "DejaVu Sans";

    private const string ResourceName = "MsSwift.Cli.Plotting.DejaVuSans.ttf";

    private static readonly Lazy<SKTypeface> LoadedTypeface = new(Load);

    private static readonly Lazy<bool> Registration = new(Register);

    public static SKTypeface Typeface => LoadedTypeface.Value;

    /// <summary>Makes ScottPlot resolve <see cref="Family"/> to the embedded file; once per process.</summary>
    public static void EnsureRegistered() => _ = Registration.Value;

    private static bool Register()
    {
        // First in the list, so it wins over a system font of the same name. ScottPlot's resolver
        // list is a plain static List: Lazy makes this one write thread-safe.
        Fonts.FontResolvers.Insert(0, new EmbeddedFontResolver());
        return true;
    }

    private static SKTypeface Load()
    {
        using var stream = typeof(PlotFont).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the plot font {ResourceName} is not embedded in msswift");
        return SKTypeface.FromStream(stream)
            ?? throw new InvalidOperationException($"Skia cannot read the embedded plot font {ResourceName}");
    }

    /// <summary>Answers only for <see cref="Family"/>; other names fall through to the system.</summary>
    private sealed class EmbeddedFontResolver : IFontResolver
    {
        // One regular face serves every weight and slant: titles come out regular rather than bold,
        // which costs nothing in a loss plot and saves shipping three more font files.
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            Matches(fontName) ? Typeface : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            Matches(fontName) ? Typeface : null;

        private static bool Matches(string fontName) =>
            string.Equals(fontName, Family, StringComparison.OrdinalIgnoreCase);
    }
}
