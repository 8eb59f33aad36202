namespace MsSwift.Modeling.Generation.Scheduling;

/// <summary>
/// Least squares of <c>y = a + b x</c> over exponentially decaying sums, so the fit follows the
/// machine as it changes (other load, warmer caches) without a fixed window. A small ridge on
/// <c>b</c> keeps it solvable while <c>x</c> has not varied: the slope then reads as zero and the
/// fit as the recent mean.
/// </summary>
internal sealed class DecayingLinearFit(double retention = 0.95)
{
    private const double Ridge = 1e-6;
    private double _n;
    private double _x;
    private double _xx;
    private double _y;
    private double _xy;

    public bool Observed => _n > 0;

    public void Observe(double x, double y)
    {
        if (!double.IsFinite(x) || !double.IsFinite(y) || y < 0)
        {
            return;
        }

        _n = retention * _n + 1;
        _x = retention * _x + x;
        _xx = retention * _xx + x * x;
        _y = retention * _y + y;
        _xy = retention * _xy + x * y;
    }

    /// <summary>The fitted value at <paramref name="x"/>, never negative; 0 before the first measurement.</summary>
    public double Predict(double x)
    {
        if (_n <= 0)
        {
            return 0;
        }

        var meanX = _x / _n;
        var spread = _xx / _n - meanX * meanX; // variance of x
        var slope = (_xy / _n - meanX * _y / _n) / (spread + Ridge * (1 + meanX * meanX));
        return Math.Max(0, _y / _n + slope * (x - meanX));
    }
}
