namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>
/// Measured time of a batched model call as a function of its rows and of one size per row
/// (cached positions for a decode step, prompt tokens for a prefill): one decaying fit in that
/// size per row count, so what was learned about 64-row steps is kept while the engine runs
/// batches of one, and row counts not measured yet are interpolated between measured ones (or
/// extrapolated along the measured range's slope, never downhill).
/// </summary>
internal sealed class StepTimeModel(int maxRows)
{
    private readonly DecayingLinearFit?[] _byRows = new DecayingLinearFit?[maxRows + 1];

    public bool Observed => Largest > 0;

    /// <summary>The most rows measured so far (0 before any measurement).</summary>
    public int Largest { get; private set; }

    /// <param name="rows">Rows the call computed.</param>
    /// <param name="size">The size over all rows (positions or tokens).</param>
    /// <param name="seconds">How long it took.</param>
    public void Observe(int rows, double size, double seconds)
    {
        if (rows < 1 || rows > maxRows)
        {
            return;
        }

        (_byRows[rows] ??= new DecayingLinearFit()).Observe(size / rows, seconds);
        Largest = Math.Max(Largest, rows);
    }

    /// <summary>Predicted seconds for <paramref name="rows"/> rows of <paramref name="sizePerRow"/> each; null before any measurement.</summary>
    public double? Predict(int rows, double sizePerRow)
    {
        if (!Observed)
        {
            return null;
        }

        rows = Math.Clamp(rows, 1, maxRows);
        if (_byRows[rows] is { } exact)
        {
            return exact.Predict(sizePerRow);
        }

        var below = Nearest(rows, -1);
        var above = Nearest(rows, +1);
        double At(int measured) => _byRows[measured]!.Predict(sizePerRow);
        if (below > 0 && above > 0)
        {
            return At(below) + (At(above) - At(below)) * (rows - below) / (above - below);
        }

        if (above > 0)
        {
            return At(above); // fewer rows than ever measured: no faster than the smallest measured
        }

        // More rows than ever measured: along the slope from the smallest to the largest measured.
        var lowest = Nearest(0, +1);
        var slope = below > lowest ? Math.Max(0, (At(below) - At(lowest)) / (below - lowest)) : 0;
        return At(below) + slope * (rows - below);
    }

    private int Nearest(int from, int direction)
    {
        for (var rows = from + direction; rows >= 1 && rows <= maxRows; rows += direction)
        {
            if (_byRows[rows] is not null)
            {
                return rows;
            }
        }

        return 0;
    }
}
